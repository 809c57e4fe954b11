"""The hot path's database cost, pinned: cached thread lookups, one read per push, fixed-size lists."""

from __future__ import annotations

import pytest

from chat import services
from chat.gateway import handlers, pushes
from chat.gateway.protocol import ClientFrame
from chat.gateway.state import ConnectionState
from engage.models import Channel

pytestmark = pytest.mark.django_db


def frame(event_type: str, data: dict) -> ClientFrame:  # type: ignore[type-arg]
    return ClientFrame(action="chatWindowEvent", event_id="e-1", event_type=event_type, data=data, payload={})


@pytest.fixture
def state(acme) -> ConnectionState:  # type: ignore[no-untyped-def]
    channel = Channel.objects.select_related("brand", "tenant").get(pk=acme.messaging.pk)
    for name in ("t-1", "t-2", "t-3"):
        thread, _ = services.thread_get_or_create(channel=channel, customer=acme.visitor, public_id=name)
        for number in range(4):
            services.message_create(thread=thread, author_type="customer", content={"text": f"{name} {number}"})
    state = ConnectionState(channel=channel, customer=None, legacy_customer_id=None, visitor_id="", base_url="")
    handlers.customer_bind(state, acme.visitor)
    return state


def test_typing_on_a_known_thread_costs_no_query(state, django_assert_num_queries):  # type: ignore[no-untyped-def]
    with django_assert_num_queries(0):
        handlers.HANDLERS["SenderTypingStarted"](
            state, frame("SenderTypingStarted", {"thread": {"idOnExternalPlatform": "t-1"}})
        )


def test_thread_list_is_one_query(state, django_assert_num_queries):  # type: ignore[no-untyped-def]
    with django_assert_num_queries(1):
        answer = handlers.fetch_thread_list(state, frame("FetchThreadList", {}))
    assert len(answer[0]["postback"]["data"]["threads"]) == 3


def test_recover_cost_does_not_grow_with_the_page(state, django_assert_num_queries, settings):  # type: ignore[no-untyped-def]
    request = frame("RecoverThread", {"thread": {"idOnExternalPlatform": "t-1"}})
    settings.PARLEY_GATEWAY_PAGE_SIZE = 2
    with django_assert_num_queries(5):  # contact, page, attachments, fresh thread counters and customer
        small = handlers.recover_thread(state, request)
    settings.PARLEY_GATEWAY_PAGE_SIZE = 20
    with django_assert_num_queries(5):  # contact, page, attachments, fresh thread counters and customer
        large = handlers.recover_thread(state, request)
    assert (len(small[0]["postback"]["data"]["messages"]), len(large[0]["postback"]["data"]["messages"])) == (2, 4)


def test_a_message_push_is_one_read_shared_by_tabs(state, acme, django_assert_num_queries):  # type: ignore[no-untyped-def]
    thread = state.threads["t-2"]
    message = services.message_create(
        thread=thread, author_type="agent", agent=acme.alice, content={"text": "hi"}
    ).message
    event = {
        "event": "message.created",
        "tenant_id": acme.tenant.pk,
        "thread_id": thread.pk,
        "channel_id": acme.messaging.pk,
        "customer_id": acme.visitor.pk,
        "message_id": message.pk,
        "sequence": message.sequence,
        "is_internal": False,
    }
    with django_assert_num_queries(2):  # the message with its joins, then its attachments
        first = pushes.push_frames(state, event)
    with django_assert_num_queries(0):  # another socket of the same process
        second = pushes.push_frames(state, event)
    assert first == second
    assert first[0]["data"]["message"]["messageContent"]["payload"]["text"] == "hi"


def test_context_only_thread_updates_cost_nothing(state, acme, django_assert_num_queries):  # type: ignore[no-untyped-def]
    thread = state.threads["t-1"]
    event = {
        "event": "thread.updated",
        "tenant_id": acme.tenant.pk,
        "thread_id": thread.pk,
        "channel_id": acme.messaging.pk,
        "customer_id": acme.visitor.pk,
        "changes": ["context"],
    }
    with django_assert_num_queries(0):
        assert pushes.push_frames(state, event) == []


def test_events_of_other_customers_are_dropped_unread(state, globex, django_assert_num_queries):  # type: ignore[no-untyped-def]
    event = {"event": "message.created", "customer_id": globex.visitor.pk, "thread_id": 1, "message_id": 1}
    with django_assert_num_queries(0):
        assert pushes.push_frames(state, event) == []


def test_recover_with_an_assigned_agent_costs_the_same(state, acme, django_assert_num_queries):  # type: ignore[no-untyped-def]
    from chat.models import Contact

    contact = Contact.objects.get(thread=state.threads["t-1"])
    services.contact_assign(contact=contact, agent=acme.alice)
    with django_assert_num_queries(5):
        answer = handlers.recover_thread(state, frame("RecoverThread", {"thread": {"idOnExternalPlatform": "t-1"}}))
    assert answer[0]["postback"]["data"]["inboxAssignee"]["firstName"] == "Alice"
