"""The visitor push and the console's message data rendered straight from a snapshot equal the
model-based renderings (of the rebuilt instances, and of the row read back), for every kind of message."""

from __future__ import annotations

import copy
import datetime
import zoneinfo
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from django.core import signing
from django.utils import timezone

from chat import events, selectors, services
from chat.api.serializers import MessageSerializer
from chat.console.rendering import message_data_from_snapshot
from chat.gateway.protocol import cxone_timestamp
from chat.gateway.pushes import _message_frame, _snapshot_frame
from chat.gateway.state import ConnectionState
from chat.models import Contact, Message
from chat.snapshots import message_from_snapshot, usable_snapshot
from engage.models import Channel

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _signed_urls_of_one_second(monkeypatch):  # type: ignore[no-untyped-def]
    """Signed URLs carry their signing second: one second for the whole test, so renderings compare whole."""
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: "1")


def _thread(cast: Any, *, channel: Channel | None = None, name: str = "", public_id: str = "kind") -> Any:
    thread, _ = services.thread_get_or_create(
        channel=channel or cast.messaging, customer=cast.visitor, public_id=public_id, name=name
    )
    return thread


def _opened(cast: Any, **thread: Any) -> Any:
    """A thread whose first customer message opened a contact (unassigned)."""
    made = _thread(cast, **thread)
    services.message_create(thread=made, author_type=Message.Author.CUSTOMER, content={"text": "Hi"})
    return made


def _assigned(cast: Any, agent: Any = None, **thread: Any) -> Any:
    made = _opened(cast, **thread)
    services.contact_assign(contact=Contact.objects.get(thread=made), agent=agent or cast.alice)
    return made


def _attachment(cast: Any, name: str, mime_type: str, data: bytes, **by: Any) -> Any:
    return services.attachment_create(channel=cast.messaging, file_name=name, mime_type=mime_type, data=data, **by)


# Each kind: (cast name, a function of the cast that prepares and returns message_create's arguments).
Kind = tuple[str, Callable[[Any], dict[str, Any]]]


def _customer_first_text(cast: Any) -> dict[str, Any]:
    return {"thread": _thread(cast), "author_type": "customer", "content": {"text": "Bonjour, ça va ? 👋"}}


def _customer_text_named_customer(cast: Any) -> dict[str, Any]:
    services.customer_update(
        customer=cast.visitor, values={"first_name": "Vera", "last_name": "Nyx", "image": "https://i.example/v.png"}
    )
    return {"thread": _opened(cast), "author_type": "customer", "content": {"text": "Again"}, "client_id": "c-42"}


def _customer_text_to_assigned_contact(cast: Any) -> dict[str, Any]:
    return {"thread": _assigned(cast), "author_type": "customer", "content": {"text": "Still there?"}}


def _agent_with_nickname(cast: Any) -> dict[str, Any]:
    cast.alice.nickname = "Ali"
    cast.alice.save(update_fields=["nickname"])
    thread = _assigned(cast)
    return {"thread": thread, "author_type": "agent", "agent": cast.alice, "content": {"text": "Hello from Ali"}}


def _agent_without_first_name_or_nickname(cast: Any) -> dict[str, Any]:
    cast.bob.user.first_name, cast.bob.user.last_name = "", "Builder"
    cast.bob.user.save(update_fields=["first_name", "last_name"])
    thread = _assigned(cast, cast.bob)
    return {"thread": thread, "author_type": "agent", "agent": cast.bob, "content": {"text": "Bob here"}}


def _agent_named_by_username_only(cast: Any) -> dict[str, Any]:
    cast.bob.user.first_name = cast.bob.user.last_name = ""
    cast.bob.user.save(update_fields=["first_name", "last_name"])
    cast.bob.nickname = ""
    cast.bob.save(update_fields=["nickname"])
    thread = _assigned(cast, cast.alice)  # the author is not the assignee
    return {"thread": thread, "author_type": "agent", "agent": cast.bob, "content": {"text": "Hi"}}


def _agent_to_unassigned_contact(cast: Any) -> dict[str, Any]:
    return {"thread": _opened(cast), "author_type": "agent", "agent": cast.admin, "content": {"text": "Admin here"}}


def _bot(cast: Any) -> dict[str, Any]:
    return {"thread": _opened(cast), "author_type": "bot", "content": {"text": "I am a bot"}}


def _system(cast: Any) -> dict[str, Any]:
    return {"thread": _opened(cast), "author_type": "system", "content": {"text": "Chat transferred"}}


def _postback(cast: Any) -> dict[str, Any]:
    return {
        "thread": _opened(cast),
        "author_type": "customer",
        "content_type": "POSTBACK",
        "content": {"text": "Yes please", "postback": "/yes"},
    }


def _quick_replies(cast: Any) -> dict[str, Any]:
    payload = {
        "text": {"content": "Pick one"},
        "actions": [{"type": "REPLY_BUTTON", "text": "A", "postback": "a"}, {"type": "REPLY_BUTTON", "text": "B"}],
    }
    return {
        "thread": _assigned(cast),
        "author_type": "agent",
        "agent": cast.alice,
        "content_type": "QUICK_REPLIES",
        "content": {"payload": payload, "fallbackText": "Pick A or B"},
    }


def _list_picker(cast: Any) -> dict[str, Any]:
    payload = {
        "title": {"content": "Menu"},
        "text": {"content": "Choose"},
        "actions": [{"type": "REPLY_BUTTON", "text": "Pizza", "postback": "pizza", "icon": {"url": "https://x"}}],
    }
    return {
        "thread": _opened(cast),
        "author_type": "bot",
        "content_type": "LIST_PICKER",
        "content": {"payload": payload},
    }


def _rich_link(cast: Any) -> dict[str, Any]:
    payload = {"title": {"content": "Docs"}, "url": "https://docs.example/", "media": {"fileName": "a.png"}}
    return {
        "thread": _opened(cast),
        "author_type": "agent",
        "agent": cast.alice,
        "content_type": "RICH_LINK",
        "content": {"payload": payload},
    }


def _adaptive_card(cast: Any) -> dict[str, Any]:
    payload = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Ünïcødé", "n": 1.5}]}
    return {
        "thread": _opened(cast),
        "author_type": "agent",
        "agent": cast.alice,
        "content_type": "ADAPTIVE_CARD",
        "content": {"payload": payload, "postback": "card-1"},
    }


def _plugin(cast: Any) -> dict[str, Any]:
    payload = {"elements": [{"type": "CUSTOM", "variables": {"a": [1, 2, None, True]}}]}
    return {"thread": _opened(cast), "author_type": "bot", "content_type": "PLUGIN", "content": {"payload": payload}}


def _agent_attachments(cast: Any) -> dict[str, Any]:
    files = [
        _attachment(cast, "plan.pdf", "application/pdf", b"%PDF-1.4", agent=cast.alice),
        _attachment(cast, "photo.png", "image/png", PNG, agent=cast.alice),
    ]
    return {
        "thread": _assigned(cast),
        "author_type": "agent",
        "agent": cast.alice,
        "content": {"text": "Files"},
        "attachments": files,
    }


def _customer_attachment_without_text(cast: Any) -> dict[str, Any]:
    files = [_attachment(cast, "me.png", "image/png", PNG, customer=cast.visitor)]
    return {"thread": _opened(cast), "author_type": "customer", "content": {}, "attachments": files}


def _archived_thread(cast: Any) -> dict[str, Any]:
    thread = _assigned(cast)
    services.thread_set_archived(thread=thread)
    return {"thread": thread, "author_type": "agent", "agent": cast.alice, "content": {"text": "Still archived"}}


def _locked_named_thread(cast: Any) -> dict[str, Any]:
    thread = _opened(cast, name="Order #1234 — refund")
    services.thread_set_locked(thread=thread, locked=True)
    return {"thread": thread, "author_type": "agent", "agent": cast.alice, "content": {"text": "Locked now"}}


def _live_chat_channel(cast: Any) -> dict[str, Any]:
    return {"thread": _thread(cast, channel=cast.live), "author_type": "customer", "content": {"text": "Live"}}


def _contact_in_a_queue_with_custom_fields(cast: Any) -> dict[str, Any]:
    thread = _opened(cast)
    Contact.objects.filter(thread=thread).update(custom_fields={"order": "1234", "lang": "fr"}, status="pending")
    return {"thread": thread, "author_type": "customer", "content": {"text": "Any news?"}}


def _other_tenant(cast: Any) -> dict[str, Any]:
    return {"thread": _assigned(cast), "author_type": "agent", "agent": cast.alice, "content": {"text": "Globex"}}


def _internal_note(cast: Any) -> dict[str, Any]:
    thread = _assigned(cast)
    return {
        "thread": thread,
        "author_type": "agent",
        "agent": cast.alice,
        "content": {"text": "psst"},
        "is_internal": True,
    }


KINDS: dict[str, Kind] = {
    "customer first text": ("acme", _customer_first_text),
    "customer text, named customer, client id": ("acme", _customer_text_named_customer),
    "customer text to an assigned contact": ("acme", _customer_text_to_assigned_contact),
    "agent with a nickname": ("acme", _agent_with_nickname),
    "agent without first name or nickname": ("acme", _agent_without_first_name_or_nickname),
    "agent named by username only, not the assignee": ("acme", _agent_named_by_username_only),
    "agent to an unassigned contact": ("acme", _agent_to_unassigned_contact),
    "bot": ("acme", _bot),
    "system": ("acme", _system),
    "postback": ("acme", _postback),
    "quick replies": ("acme", _quick_replies),
    "list picker": ("acme", _list_picker),
    "rich link": ("acme", _rich_link),
    "adaptive card with a postback": ("acme", _adaptive_card),
    "plugin": ("acme", _plugin),
    "agent attachments": ("acme", _agent_attachments),
    "customer attachment without text": ("acme", _customer_attachment_without_text),
    "archived thread": ("acme", _archived_thread),
    "locked thread with a name": ("acme", _locked_named_thread),
    "live chat channel": ("acme", _live_chat_channel),
    "pending contact with a queue and custom fields": ("acme", _contact_in_a_queue_with_custom_fields),
    "other tenant, brand and bot name": ("globex", _other_tenant),
}


def _write(request: Any, published: list[Any], capture: Any, kind: Kind) -> tuple[Message, dict[str, Any]]:
    cast_name, prepare = kind
    cast = request.getfixturevalue(cast_name)
    arguments = prepare(cast)
    published.clear()
    with capture(execute=True):
        written = services.message_create(**arguments)
    (event,) = [e for e in published if isinstance(e, events.MessageCreated)]
    return written.message, event.as_dict()


def _state(message: Message) -> ConnectionState:
    thread = message.thread
    channel = Channel.objects.select_related("brand").get(pk=thread.channel_id)
    return ConnectionState(
        channel=channel, customer=thread.customer, legacy_customer_id=None, visitor_id="v", base_url="http://t"
    )


def _without_event_id(frame: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in frame.items() if key != "eventId"}


def _wire(event: dict[str, Any]) -> dict[str, Any]:
    """The event as another process gets it through the channel layer."""
    return msgpack.unpackb(msgpack.packb(event))  # type: ignore[no-any-return]


def _assert_equal_renderings(message: Message, event: dict[str, Any], *, read_back: bool = True) -> None:
    state = _state(message)
    snapshot = usable_snapshot(event, message.tenant_id)
    assert snapshot is not None
    rebuilt = message_from_snapshot(snapshot)
    assert rebuilt is not None
    if not snapshot["message"]["is_internal"]:
        visitor = _without_event_id(_snapshot_frame(state, snapshot))
        assert visitor == _without_event_id(_message_frame(state, rebuilt))
        if read_back:
            stored = selectors.message_for_customer(tenant_id=message.tenant_id, message_id=message.pk)
            assert stored is not None
            assert visitor == _without_event_id(_message_frame(state, stored))
    console = message_data_from_snapshot(snapshot)
    assert console == MessageSerializer().to_representation(rebuilt)
    if read_back:
        stored = Message.objects.select_related("author_agent__user").prefetch_related("attachments").get(pk=message.pk)
        assert console == MessageSerializer(stored).data


@pytest.mark.parametrize("kind", KINDS.values(), ids=KINDS.keys())
def test_snapshot_renderings_equal_the_model_renderings(
    request, published, django_capture_on_commit_callbacks, django_assert_num_queries, kind
):  # type: ignore[no-untyped-def]
    message, event = _write(request, published, django_capture_on_commit_callbacks, kind)
    for form in (event, _wire(event)):  # in this process (choices, as written) and through the layer
        _assert_equal_renderings(message, form)
        state = _state(message)
        snapshot = usable_snapshot(form, message.tenant_id)
        assert snapshot is not None
        with django_assert_num_queries(0):
            _snapshot_frame(state, snapshot)
            message_data_from_snapshot(snapshot)


def test_an_internal_note_renders_for_the_console_and_never_for_the_visitor(
    request, published, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    from chat.gateway.pushes import message_created

    message, event = _write(request, published, django_capture_on_commit_callbacks, ("acme", _internal_note))
    _assert_equal_renderings(message, _wire(event))
    assert message_created(_state(message), {**_wire(event), "is_internal": False}) == []


SECOND = "2026-11-21T10:00:00+00:00"
MICROSECONDS = "2026-11-21T10:00:00.000999+00:00"
PARIS = "2026-11-21T11:00:00.123456+01:00"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"contact": None, "assignee": None}, id="no contact"),
        pytest.param({"message": {"delivered_at": SECOND, "seen_at": MICROSECONDS}}, id="delivered and seen"),
        pytest.param({"message": {"created_at": SECOND, "delivered_at": PARIS}}, id="whole second, other offset"),
        pytest.param({"message": {"created_at": PARIS, "seen_at": PARIS}}, id="created in another offset"),
        pytest.param({"contact": {"created_at": PARIS, "status_updated_at": SECOND}}, id="contact times"),
        pytest.param({"contact": {"queue_id": None}, "assignee": None}, id="no queue, no assignee"),
        pytest.param({"author": {"nickname": "", "user": {"first_name": "", "last_name": ""}}}, id="bare author"),
    ],
)
@pytest.mark.parametrize("direction", ["customer", "agent"])
def test_snapshots_changed_after_writing_render_as_their_rebuilt_messages(
    request, published, django_capture_on_commit_callbacks, change, direction
):  # type: ignore[no-untyped-def]
    kind = ("acme", _agent_attachments) if direction == "agent" else ("acme", _customer_text_to_assigned_contact)
    message, event = _write(request, published, django_capture_on_commit_callbacks, kind)
    for form in (event, _wire(event)):
        form = copy.deepcopy(form)
        for part, values in change.items():
            if values is None:
                form["snapshot"][part] = None
            elif form["snapshot"][part] is not None:  # a customer's message has no author to change
                for key, value in values.items():
                    if isinstance(value, dict):
                        form["snapshot"][part][key].update(value)
                    else:
                        form["snapshot"][part][key] = value
        _assert_equal_renderings(message, form, read_back=False)


def test_the_console_data_follows_the_current_time_zone_as_drf_does(
    request, published, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    message, event = _write(request, published, django_capture_on_commit_callbacks, ("acme", _agent_with_nickname))
    event["snapshot"]["message"]["seen_at"] = PARIS
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        _assert_equal_renderings(message, event, read_back=False)
        assert message_data_from_snapshot(event["snapshot"])["seen_at"] == "2026-11-21T05:00:00.123456-05:00"


def test_a_snapshot_of_another_tenant_message_or_version_is_not_used(
    request, published, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    message, event = _write(request, published, django_capture_on_commit_callbacks, ("acme", _bot))
    assert usable_snapshot({**event, "snapshot": {**event["snapshot"], "v": 2}}, message.tenant_id) is None
    assert usable_snapshot(event, message.tenant_id) is event["snapshot"]
    assert usable_snapshot(event, message.tenant_id + 1) is None
    assert usable_snapshot({**event, "message_id": message.pk + 1}, message.tenant_id) is None
    assert usable_snapshot({**event, "snapshot": None}, message.tenant_id) is None


@pytest.mark.parametrize("milliseconds", [False, True])
def test_timestamps_of_iso_text_equal_those_of_datetimes(milliseconds):  # type: ignore[no-untyped-def]
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    moments = [
        datetime.datetime(2026, 11, 21, 10, 0, 0, tzinfo=datetime.UTC),
        datetime.datetime(2026, 11, 21, 10, 0, 0, 999, tzinfo=datetime.UTC),
        datetime.datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=datetime.UTC),
        datetime.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.UTC),
        datetime.datetime(999, 1, 2, 3, 4, 5, 6000, tzinfo=datetime.UTC),
        datetime.datetime(2026, 3, 29, 2, 30, 0, 500000, tzinfo=paris),
        datetime.datetime(2026, 11, 21, 0, 30, 0, tzinfo=paris),
        datetime.datetime(2026, 11, 21, 10, 0, 0, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=-3))),
    ]
    for moment in moments:
        expected = cxone_timestamp(moment, milliseconds=milliseconds)
        assert cxone_timestamp(moment.isoformat(), milliseconds=milliseconds) == expected, moment
