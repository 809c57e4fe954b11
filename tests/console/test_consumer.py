"""The console socket (ws/console): handshake, pushes, filtering and resync."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from chat import assignment, services
from chat.models import Message
from tests.console.helpers import console_socket, waiting_contact

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("own_cache")]


async def _frames_until(communicator, predicate, *, limit: int = 20) -> list[dict]:
    frames = []
    for _ in range(limit):
        frame = await communicator.receive_json_from(timeout=5)
        frames.append(frame)
        if predicate(frame):
            return frames
    raise AssertionError(f"no matching frame in {frames}")


async def _nothing_more(communicator) -> None:
    assert await communicator.receive_nothing(timeout=0.3)


async def test_a_member_gets_a_welcome(acme):
    communicator, connected, _ = await console_socket(acme.alice.user)
    assert connected
    welcome = await communicator.receive_json_from()
    assert welcome == {
        "type": "welcome",
        "protocol": 1,
        "agent": {"id": acme.alice.pk, "name": "Alice Agent", "role": "agent", "presence": "offline"},
        "tenant": {"id": acme.tenant.pk, "slug": "acme", "name": "Acme"},
    }
    await communicator.disconnect()


async def test_the_sockets_frames_skip_the_session_wrappers_checks(acme, monkeypatch):
    """The session middleware saves a changed session on an HTTP response only; the console's
    frames go straight to the server instead of through its per-message checks."""
    from channels.sessions import InstanceSessionWrapper

    wrapped = []
    original = InstanceSessionWrapper.send

    async def counted(self, message):  # type: ignore[no-untyped-def]
        wrapped.append(message["type"])
        return await original(self, message)

    monkeypatch.setattr(InstanceSessionWrapper, "send", counted)
    communicator, connected, _ = await console_socket(acme.alice.user)
    assert connected
    assert (await communicator.receive_json_from())["type"] == "welcome"
    await communicator.send_json_to({"type": "ping", "ref": 1})
    assert await communicator.receive_json_from() == {"type": "pong", "ref": 1}
    await communicator.disconnect()
    assert wrapped == []


async def test_anonymous_and_non_members_cannot_open_the_socket(acme, user_model):
    outsider = await database_sync_to_async(user_model.objects.create_user)("outsider", password="x")
    for user in (None, outsider):
        _communicator, connected, code = await console_socket(user)
        assert connected is False
        assert code == 4403


async def test_a_foreign_origin_cannot_open_the_socket(acme):
    _communicator, connected, code = await console_socket(acme.alice.user, origin="https://evil.example")
    assert (connected, code) == (False, 4403)


async def test_a_member_of_another_tenant_slug_is_refused(acme, globex):
    _communicator, connected, _ = await console_socket(acme.alice.user, path="/ws/console?tenant=globex")
    assert connected is False


async def test_new_messages_and_notes_are_pushed(acme):
    communicator, _, _ = await console_socket(acme.alice.user)
    await communicator.receive_json_from()
    contact = await database_sync_to_async(waiting_contact)(acme, "c1", text="Hello there")
    frames = await _frames_until(communicator, lambda f: f["type"] == "message")
    pushed = frames[-1]
    assert pushed["thread_id"] == contact.thread_id
    assert (pushed["message"]["sequence"], pushed["message"]["content"]["text"]) == (1, "Hello there")
    assert any(f["type"] == "event" and f["event"]["event"] == "contact.created" for f in frames)

    await database_sync_to_async(services.message_create)(
        thread=contact.thread, author_type="agent", agent=acme.bob, content={"text": "note"}, is_internal=True
    )
    note = (await _frames_until(communicator, lambda f: f["type"] == "message"))[-1]
    assert (note["message"]["sequence"], note["message"]["is_internal"]) == (2, True)
    await communicator.disconnect()


async def test_events_of_channels_outside_the_agents_queues_are_not_forwarded(acme):
    await database_sync_to_async(acme.queue.agents.remove)(acme.bob)
    communicator, _, _ = await console_socket(acme.bob.user)
    await communicator.receive_json_from()
    await database_sync_to_async(waiting_contact)(acme, "c1")
    await _nothing_more(communicator)
    await communicator.disconnect()


async def test_globex_can_neither_read_nor_act_on_acme_threads_over_the_socket(acme, globex, published):
    contact = await database_sync_to_async(waiting_contact)(acme, "c1")
    communicator, connected, _ = await console_socket(globex.admin.user)
    assert connected
    await communicator.receive_json_from()
    published.clear()
    await communicator.send_json_to({"type": "resync", "threads": {str(contact.thread_id): 0}, "ref": "r"})
    frames = await _frames_until(communicator, lambda f: f["type"] == "resynced")
    assert frames[0] == {
        "type": "error",
        "code": "thread_not_found",
        "message": f"Thread {contact.thread_id}: Unknown thread.",
        "ref": "r",
    }
    await communicator.send_json_to({"type": "typing", "thread_id": contact.thread_id, "is_typing": True, "ref": 1})
    assert (await communicator.receive_json_from())["code"] == "thread_not_found"
    await communicator.send_json_to({"type": "seen", "thread_id": contact.thread_id, "ref": 2})
    assert (await communicator.receive_json_from())["code"] == "thread_not_found"
    # Acme's traffic never reaches globex.
    await database_sync_to_async(services.message_create)(
        thread=contact.thread, author_type="customer", content={"text": "secret"}
    )
    await _nothing_more(communicator)
    assert [e for e in published if e.tenant_id == globex.tenant.pk] == []
    assert (
        await database_sync_to_async(Message.objects.filter(thread=contact.thread, seen_at__isnull=False).count)() == 0
    )
    await communicator.disconnect()


async def test_only_an_agent_who_may_reply_shows_typing(acme, published):
    contact = await database_sync_to_async(waiting_contact)(acme, "c1")
    await database_sync_to_async(assignment.contact_pick)(contact=contact, agent=acme.alice)
    communicator, _, _ = await console_socket(acme.bob.user)
    await communicator.receive_json_from()
    published.clear()
    await communicator.send_json_to({"type": "typing", "thread_id": contact.thread_id, "is_typing": True, "ref": 3})
    frames = await _frames_until(communicator, lambda f: f["type"] == "error")
    assert frames[-1]["code"] == "not_assigned"
    assert [e for e in published if e.name == "typing.changed"] == []
    await communicator.disconnect()


async def test_typing_and_seen_frames(acme, published):
    contact = await database_sync_to_async(waiting_contact)(acme, "c1")
    await database_sync_to_async(assignment.contact_pick)(contact=contact, agent=acme.alice)
    communicator, _, _ = await console_socket(acme.alice.user)
    await communicator.receive_json_from()
    published.clear()
    await communicator.send_json_to({"type": "typing", "thread_id": contact.thread_id, "is_typing": True, "ref": "t"})
    frames = await _frames_until(communicator, lambda f: f["type"] == "ack")
    assert frames[-1] == {"type": "ack", "ref": "t"}
    await communicator.send_json_to({"type": "seen", "thread_id": contact.thread_id, "ref": "s"})
    frames = await _frames_until(communicator, lambda f: f["type"] == "ack")
    assert frames[-1] == {"type": "ack", "ref": "s", "marked": 1}
    assert [e.name for e in published] == ["typing.changed", "messages.seen"]
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ([1, 2], "invalid_frame"),
        ({"type": "dance"}, "unknown_type"),
        ({"type": "typing", "thread_id": 1}, "invalid_frame"),
        ({"type": "seen", "thread_id": "x"}, "invalid_frame"),
        ({"type": "resync", "threads": {"a": 1}}, "invalid_frame"),
        ({"type": "resync", "threads": {"1": -1}}, "invalid_frame"),
    ],
)
async def test_bad_frames_get_error_frames(acme, frame, code):
    communicator, _, _ = await console_socket(acme.alice.user)
    await communicator.receive_json_from()
    await communicator.send_json_to(frame)
    reply = await communicator.receive_json_from()
    assert (reply["type"], reply["code"]) == ("error", code)
    for not_json in ("{not json", '\ufeff{"type":"ping"}', '\x00{"a"', "\x00\x00\x00{}"):  # a BOM, NULs: as json reads
        await communicator.send_to(text_data=not_json)
        assert (await communicator.receive_json_from())["code"] == "invalid_frame"
    await communicator.send_json_to({"type": "ping", "ref": 7})
    assert await communicator.receive_json_from() == {"type": "pong", "ref": 7}
    await communicator.disconnect()


async def test_reconnect_resyncs_without_loss_or_duplicates(acme):
    """The socket dies mid-conversation; messages written meanwhile arrive exactly once."""
    contact = await database_sync_to_async(waiting_contact)(acme, "c1", text="m1")
    thread = contact.thread

    def customer_says(text: str) -> None:
        services.message_create(thread=thread, author_type="customer", content={"text": text}, client_id=text)

    seen: dict[int, str] = {}

    def collect(frames: list[dict]) -> None:
        for frame in frames:
            messages = [frame["message"]] if frame["type"] == "message" else frame.get("messages", [])
            for message in messages:
                assert message["sequence"] not in seen, f"duplicate {message['sequence']}"
                seen[message["sequence"]] = message["content"]["text"]

    first, _, _ = await console_socket(acme.alice.user)
    await first.receive_json_from()
    await first.send_json_to({"type": "resync", "threads": {str(thread.pk): 0}})
    collect(await _frames_until(first, lambda f: f["type"] == "resynced"))
    await database_sync_to_async(customer_says)("m2")
    collect(await _frames_until(first, lambda f: f["type"] == "message"))
    assert seen == {1: "m1", 2: "m2"}
    await first.disconnect()  # the socket is killed

    for text in ("m3", "m4", "m5"):
        await database_sync_to_async(customer_says)(text)

    second, _, _ = await console_socket(acme.alice.user)
    await second.receive_json_from()
    # Writes racing the resync: the client dedupes by sequence, the server never skips.
    await asyncio.gather(
        second.send_json_to({"type": "resync", "threads": {str(thread.pk): max(seen)}}),
        database_sync_to_async(customer_says)("m6"),
    )
    frames = await _frames_until(second, lambda f: f["type"] == "resynced")
    resync = next(f for f in frames if f["type"] == "messages")
    # The answer starts exactly after the last sequence seen, gap-free and in order.
    in_resync = [m["sequence"] for m in resync["messages"]]
    assert in_resync in ([3, 4, 5], [3, 4, 5, 6])
    assert resync["has_more"] is False
    collect([resync])
    # m6 raced the resync: it is in the answer, pushed, or both; the client keeps one copy by sequence.
    pushed = [f for f in frames if f["type"] == "message"]
    if 6 not in seen and not pushed:
        pushed = await _frames_until(second, lambda f: f["type"] == "message")
    collect([f for f in pushed if f["message"]["sequence"] not in seen])
    assert seen == {1: "m1", 2: "m2", 3: "m3", 4: "m4", 5: "m5", 6: "m6"}
    await second.disconnect()
