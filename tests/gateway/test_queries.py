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
    threads = []
    for name in ("t-1", "t-2", "t-3"):
        thread, _ = services.thread_get_or_create(channel=channel, customer=acme.visitor, public_id=name)
        threads.append(thread)
        for number in range(4):
            services.message_create(thread=thread, author_type="customer", content={"text": f"{name} {number}"})
    state = ConnectionState(channel=channel, customer=None, legacy_customer_id=None, visitor_id="", base_url="")
    handlers.customer_bind(state, acme.visitor)
    for thread in threads:  # threads this socket has touched (a recover, a send)
        state.remember(thread)
    return state


def test_binding_a_customer_reads_nothing_and_queues_one_group(acme, django_assert_num_queries):  # type: ignore[no-untyped-def]
    services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="t-1")
    state = ConnectionState(channel=acme.messaging, customer=None, legacy_customer_id=None, visitor_id="", base_url="")
    with django_assert_num_queries(0):
        handlers.customer_bind(state, acme.visitor)
    assert state.pending_joins == [f"customer.{acme.visitor.pk}"]
    assert list(state.threads) == []


def test_a_thread_is_looked_up_once_then_cached(state, acme, django_assert_num_queries):  # type: ignore[no-untyped-def]
    services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="t-4")
    typing = frame("SenderTypingStarted", {"thread": {"idOnExternalPlatform": "t-4"}})
    with django_assert_num_queries(1):  # the thread lookup; typing itself publishes without a write
        handlers.HANDLERS["SenderTypingStarted"](state, typing)
    with django_assert_num_queries(0):
        handlers.HANDLERS["SenderTypingStarted"](state, typing)


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


def test_an_upgrade_with_a_token_reads_nothing_once_the_channel_is_cached(acme, django_assert_num_queries):  # type: ignore[no-untyped-def]
    from chat.gateway import sessions
    from chat.gateway.handlers.common import customer_of
    from tests.gateway.conftest import transaction_token

    query = {
        "brandId": str(acme.brand.brand_id),
        "channelId": acme.messaging.channel_id,
        "transactionToken": transaction_token(acme.messaging, acme.visitor),
    }
    sessions.channel_cache_clear()
    assert sessions.channel_cached(brand_id=query["brandId"], channel_id=query["channelId"]) is None
    with django_assert_num_queries(1):  # the channel, with its brand and tenant
        first = sessions.handshake_accept(query=query, origin=None)
    cached = sessions.channel_cached(brand_id=query["brandId"], channel_id=query["channelId"])
    assert cached is first.channel
    with django_assert_num_queries(0):
        second = sessions.handshake_accept(query=query, origin=None, cached=cached)
        state = ConnectionState(
            channel=second.channel, customer=None, legacy_customer_id=None, visitor_id="", base_url=""
        )
        handlers.customer_bind(state, second.customer)
    assert second.channel is first.channel
    assert (second.customer.pk, second.customer.brand_id) == (acme.visitor.pk, acme.brand.pk)
    with django_assert_num_queries(1):  # the customer, read on first use
        assert customer_of(state).id_on_external_platform == "acme-visitor-1"
        assert customer_of(state).first_name == "Vera"
    with django_assert_num_queries(0):
        customer_of(state)


def test_saving_a_channel_brand_or_tenant_drops_the_cached_channels(acme):  # type: ignore[no-untyped-def]
    from chat.gateway import sessions

    pair = {"brand_id": acme.brand.brand_id, "channel_id": acme.messaging.channel_id}
    for row in (acme.messaging, acme.brand, acme.tenant):
        sessions.channel_for_visitors(**pair)
        assert sessions.channel_cached(**pair) is not None
        row.save()
        assert sessions.channel_cached(**pair) is None, type(row).__name__


def test_a_token_of_a_customer_deleted_since_authorizes_nothing(acme):  # type: ignore[no-untyped-def]
    from chat.gateway import sessions
    from chat.gateway.handlers.common import NotAuthorized, customer_of
    from chat.models import Customer

    gone = services.customer_identify(brand=acme.brand, id_on_external_platform="gone")
    customer = sessions.customer_from_token(channel=acme.messaging, customer_pk=gone.pk)
    Customer.objects.filter(pk=gone.pk).delete()
    state = ConnectionState(channel=acme.messaging, customer=None, legacy_customer_id=None, visitor_id="", base_url="")
    handlers.customer_bind(state, customer)
    with pytest.raises(NotAuthorized):
        customer_of(state)
