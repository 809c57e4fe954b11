"""A MessageCreated event carries its message, so sockets render it without reading the database."""

import msgpack
import pytest
from asgiref.sync import async_to_sync

from chat import events, selectors, services
from chat.api.serializers import MessageSerializer
from chat.console.consumer import _message_data
from chat.gateway.pushes import _message_frame, message_created
from chat.gateway.state import ConnectionState
from chat.models import Message, Thread
from chat.snapshots import RenderedCache, message_from_snapshot


def _strip_urls(value):
    """Signed URLs carry their signing time; everything else must be equal."""
    if isinstance(value, dict):
        return {
            key: ("<url>" if key.endswith(("url", "Url")) and item else _strip_urls(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_strip_urls(item) for item in value]
    return value


@pytest.fixture
def written(acme, published, django_capture_on_commit_callbacks):
    """An agent reply with an attachment, on a thread whose contact is assigned to Alice."""
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="snap-1")
    first = services.message_create(thread=thread, author_type=Message.Author.CUSTOMER, content={"text": "Hello"})
    services.contact_assign(contact=first.message.contact, agent=acme.alice)
    acme.alice.nickname = "Ali"
    acme.alice.save(update_fields=["nickname"])
    attachment = services.attachment_create(
        channel=acme.messaging, file_name="plan.pdf", mime_type="application/pdf", data=b"%PDF-1.4", agent=acme.alice
    )
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.message_create(
            thread=thread,
            author_type=Message.Author.AGENT,
            agent=acme.alice,
            content={"text": "Here is the plan"},
            attachments=[attachment],
        )
    (event,) = [e for e in published if isinstance(e, events.MessageCreated)]
    return reply.message, event


def test_the_event_carries_a_snapshot_that_survives_the_channel_layer_encoding(written):
    _, event = written
    wire = msgpack.unpackb(msgpack.packb(event.as_dict()))
    assert wire == event.as_dict()
    assert wire["snapshot"]["v"] == 1
    assert wire["snapshot"]["message"]["content"] == {
        "text": "Here is the plan",
        "fallbackText": "Here is the plan",
        "payload": {},
        "postback": None,
    }
    assert wire["snapshot"]["author"]["user"]["username"] == "alice"
    assert "password" not in wire["snapshot"]["author"]["user"]
    assert [a["file_name"] for a in wire["snapshot"]["attachments"]] == ["plan.pdf"]


def test_the_console_renders_the_snapshot_as_the_api_renders_the_row(written, django_assert_num_queries):
    message, event = written
    wire = msgpack.unpackb(msgpack.packb(event.as_dict()))
    with django_assert_num_queries(0):
        rebuilt = message_from_snapshot(wire["snapshot"])
        from_snapshot = MessageSerializer(rebuilt).data
    stored = Message.objects.select_related("author_agent__user").prefetch_related("attachments").get(pk=message.pk)
    assert _strip_urls(from_snapshot) == _strip_urls(MessageSerializer(stored).data)
    assert from_snapshot["author_agent"] == {"id": message.author_agent_id, "name": "Ali"}
    assert (
        from_snapshot["attachments"][0]["url"].split("/files/")[0]
        == MessageSerializer(stored).data["attachments"][0]["url"].split("/files/")[0]
    )


def test_the_visitor_push_from_the_snapshot_equals_the_one_read_from_the_database(
    acme, written, django_assert_num_queries
):
    message, event = written
    wire = msgpack.unpackb(msgpack.packb(event.as_dict()))
    channel = type(acme.messaging).objects.select_related("brand").get(pk=acme.messaging.pk)
    state = ConnectionState(
        channel=channel, customer=acme.visitor, legacy_customer_id=None, visitor_id="v", base_url="http://t"
    )
    with django_assert_num_queries(0):
        (pushed,) = message_created(state, wire)
    stored = selectors.message_for_customer(tenant_id=acme.tenant.pk, message_id=message.pk)
    expected = _message_frame(state, stored)
    assert _strip_urls(pushed["data"]) == _strip_urls(expected["data"])
    assert (pushed["eventType"], pushed["createdAt"]) == ("MessageCreated", expected["createdAt"])
    data = pushed["data"]
    assert data["message"]["authorUser"]["nickname"] == "Ali"
    assert data["case"]["inboxAssignee"] == acme.alice.pk
    assert data["message"]["attachments"][0]["fileName"] == "plan.pdf"
    assert state.sequences == {message.thread_id: message.sequence}


def test_a_snapshot_of_another_version_or_none_is_not_used(written):
    _, event = written
    assert message_from_snapshot({**event.snapshot, "v": 2}) is None
    assert message_from_snapshot(None) is None


def test_a_field_the_snapshot_leaves_out_is_read_from_the_database_when_asked(written):
    message, event = written
    Thread.objects.filter(pk=message.thread_id).update(context={"page": "/pricing"})
    rebuilt = message_from_snapshot(event.snapshot)
    assert rebuilt.thread.get_deferred_fields() >= {"context"}
    assert rebuilt.thread.context == {"page": "/pricing"}


def test_the_console_push_uses_the_snapshot_and_reads_nothing(acme, written, django_assert_num_queries):
    message, event = written
    wire = msgpack.unpackb(msgpack.packb(event.as_dict()))
    with django_assert_num_queries(0):
        data = async_to_sync(_message_data)(wire, acme.tenant.pk, True)
    assert (data["id"], data["sequence"], data["content"]["text"]) == (str(message.public_id), 2, "Here is the plan")


def test_the_console_push_of_another_tenants_snapshot_falls_back_to_a_scoped_read(globex, written, monkeypatch):
    _, event = written
    wire = msgpack.unpackb(msgpack.packb(event.as_dict()))
    reads = []

    async def scoped_read(message_id, tenant_id):  # stands for the tenant-filtered database read
        reads.append((message_id, tenant_id))

    monkeypatch.setattr("chat.console.consumer._message", scoped_read)
    assert async_to_sync(_message_data)(wire, globex.tenant.pk, True) is None
    assert reads == [(event.message_id, globex.tenant.pk)]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rendered_cache_serves_an_entry_only_moments_and_holds_it_no_longer(monkeypatch):  # type: ignore[no-untyped-def]
    clock = _Clock()
    monkeypatch.setattr("chat.snapshots.time.monotonic", clock)
    cache = RenderedCache(size=100, seconds=1.0)
    cache.put("a", {"n": 1})
    clock.now += 0.3
    cache.put("b", {"n": 2})
    assert (cache.get("a"), cache.get("b"), len(cache)) == ({"n": 1}, {"n": 2}, 2)
    clock.now += 0.2
    cache.put("c", {"n": 3})  # the young generation is half a lifetime old: it becomes the old one
    assert (len(cache), cache.get("a"), cache.get("c")) == (3, {"n": 1}, {"n": 3})
    clock.now += 0.5  # "a" is a second old: no longer served, though still held
    assert (cache.get("a"), cache.get("b")) == (None, {"n": 2})
    cache.put("d", {"n": 4})  # "a" and "b" leave with the old generation: none is held over a second
    assert (len(cache), cache.get("b"), cache.get("c"), cache.get("d")) == (2, None, {"n": 3}, {"n": 4})
    clock.now += 10  # however long nothing is put, what is held is no longer served
    assert (cache.get("c"), cache.get("d")) == (None, None)


def test_rendered_cache_holds_at_most_size_entries_and_a_new_rendering_wins(monkeypatch):  # type: ignore[no-untyped-def]
    clock = _Clock()
    monkeypatch.setattr("chat.snapshots.time.monotonic", clock)
    cache = RenderedCache(size=4, seconds=5)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)  # the young generation holds half the size: it becomes the old one, "a" starts the new
    assert [cache.get(key) for key in ("a", "b")] == [3, 2]
    cache.put("c", 4)
    cache.put("d", 5)  # full again: the generation holding "a"=1 and "b" is dropped
    assert [cache.get(key) for key in ("a", "b", "c", "d")] == [3, None, 4, 5]
    assert len(cache) == 3
