"""A console reply without attachments is checked and written from the event loop (``replies.areply_send``)."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from chat import assignment, inbox, services
from chat.models import Message
from tests.console.helpers import answer_to, waiting_contact, welcomed_console

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("own_cache"), pytest.mark.postgres]


async def _accepted_by_alice(acme):  # type: ignore[no-untyped-def]
    """A messaging contact with one customer message (sequence 1), accepted by alice."""
    return await database_sync_to_async(
        lambda: assignment.contact_pick(contact=waiting_contact(acme, "cust-1", text="first"), agent=acme.alice)
    )()


async def _reply_as(user, thread_id):  # type: ignore[no-untyped-def]
    """The answer to one reply ("Hi", client id r1) sent over a console socket of ``user``."""
    communicator = await welcomed_console(user)
    await communicator.send_json_to(SEND | {"thread_id": thread_id})
    answer = await answer_to(communicator, "a")
    await communicator.disconnect()
    return answer


SEND = {"type": "send", "client_id": "r1", "text": "Hi", "ref": "a"}


@pytest.fixture
def no_worker_reply(monkeypatch):  # type: ignore[no-untyped-def]
    """Fails the test, once installed, if a reply is checked or written the worker's way."""

    def refuse(**kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("checked or written in a worker")

    def install() -> None:
        monkeypatch.setattr(services, "message_create", refuse)
        monkeypatch.setattr(inbox, "thread_for_reply", refuse)

    return install


async def test_a_reply_to_an_accepted_contact_is_written_in_the_loop(acme, no_worker_reply):  # type: ignore[no-untyped-def]
    contact = await _accepted_by_alice(acme)
    no_worker_reply()
    sent = await _reply_as(acme.alice.user, contact.thread_id)
    assert (sent["type"], sent["created"]) == ("sent", True)
    message = sent["message"]
    assert (message["sequence"], message["client_id"], message["content"]["text"]) == (2, "r1", "Hi")
    assert message["author_agent"] == {"id": acme.alice.pk, "name": "Alice Agent"}
    stored = await database_sync_to_async(Message.objects.get)(client_id="r1")
    assert (stored.sequence, stored.author_agent_id, stored.contact_id, stored.text) == (
        2,
        acme.alice.pk,
        contact.pk,
        "Hi",
    )


async def test_in_the_loop_another_agents_contact_is_refused_and_nothing_written(acme, no_worker_reply):  # type: ignore[no-untyped-def]
    contact = await _accepted_by_alice(acme)
    no_worker_reply()
    refused = await _reply_as(acme.bob.user, contact.thread_id)
    assert refused["type"] == "error"
    assert refused["code"] == "not_assigned"
    assert await database_sync_to_async(Message.objects.count)() == 1


async def test_in_the_loop_a_globex_agent_cannot_write_into_an_acme_thread(acme, globex, no_worker_reply):  # type: ignore[no-untyped-def]
    contact = await _accepted_by_alice(acme)
    no_worker_reply()
    refused = await _reply_as(globex.admin.user, contact.thread_id)
    assert (refused["type"], refused["code"]) == ("error", "thread_not_found")
    assert await database_sync_to_async(Message.objects.count)() == 1


async def test_a_reply_waiting_on_the_database_holds_up_nothing_else(acme, monkeypatch):  # type: ignore[no-untyped-def]
    from chat.console import consumer, protocol

    release = asyncio.Event()

    async def slow_reply(agent, frame, utc):  # type: ignore[no-untyped-def]
        await release.wait()
        return protocol.sent_frame(thread_id=frame.thread_id, message={"slow": True}, created=True, ref=frame.ref)

    monkeypatch.setattr(consumer, "_reply", slow_reply)
    communicator = await welcomed_console(acme.alice.user)
    await communicator.send_json_to(SEND | {"thread_id": 1})
    await communicator.send_json_to({"type": "ping", "ref": "p"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong", "ref": "p"}
    release.set()
    sent = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    assert (sent["type"], sent["ref"], sent["message"]) == ("sent", "a", {"slow": True})


async def test_replies_at_their_limit_stop_the_reading_not_the_pushes(acme, monkeypatch):  # type: ignore[no-untyped-def]
    """With as many replies in flight as a socket may have, the socket's next frame waits, but the
    tenant's events keep coming: waiting for a reply to finish held up every push to the console."""
    from chat.console import consumer, protocol

    release = asyncio.Event()
    started: list[str] = []

    async def slow_reply(agent, frame, utc):  # type: ignore[no-untyped-def]
        started.append(frame.ref)
        await release.wait()
        return protocol.sent_frame(thread_id=frame.thread_id, message={}, created=True, ref=frame.ref)

    monkeypatch.setattr(consumer, "_reply", slow_reply)
    monkeypatch.setattr(consumer, "REPLIES_IN_FLIGHT", 3)
    communicator = await welcomed_console(acme.alice.user)
    for number in range(4):  # one more than the limit: the fourth is read once one is done
        ref = f"r{number}"
        await communicator.send_json_to(SEND | {"thread_id": 100 + number, "ref": ref, "client_id": ref})
    await communicator.send_json_to({"type": "ping", "ref": "p"})
    contact = await database_sync_to_async(waiting_contact)(acme, "cust-2", text="still pushed")
    pushed = await communicator.receive_json_from(timeout=5)
    while pushed["type"] != "message":
        assert pushed["type"] == "event"
        pushed = await communicator.receive_json_from(timeout=5)
    assert (pushed["thread_id"], pushed["message"]["content"]["text"]) == (contact.thread_id, "still pushed")
    assert started == ["r0", "r1", "r2"]  # neither the fourth reply nor the ping was read
    release.set()
    answers = []
    while len(answers) < 5:  # the five answers, past any further event of the new contact
        frame = await communicator.receive_json_from(timeout=5)
        if frame["type"] not in ("event", "message"):
            answers.append(frame)
    await communicator.disconnect()
    assert started == ["r0", "r1", "r2", "r3"]
    assert sorted(answer["ref"] for answer in answers) == ["p", "r0", "r1", "r2", "r3"]
    assert [answer["type"] for answer in answers if answer["ref"] == "p"] == ["pong"]


async def test_replies_to_one_thread_are_written_in_order_others_alongside(acme, monkeypatch):  # type: ignore[no-untyped-def]
    from chat.console import consumer, protocol

    log: list[str] = []

    async def reply(agent, frame, utc):  # type: ignore[no-untyped-def]
        log.append(f"start {frame.ref}")
        await asyncio.sleep(0.1 if frame.ref == "a1" else 0.01)
        log.append(f"end {frame.ref}")
        return protocol.sent_frame(thread_id=frame.thread_id, message={}, created=True, ref=frame.ref)

    monkeypatch.setattr(consumer, "_reply", reply)
    communicator = await welcomed_console(acme.alice.user)
    for ref, thread_id in (("a1", 1), ("a2", 1), ("b1", 2)):
        await communicator.send_json_to(SEND | {"thread_id": thread_id, "ref": ref, "client_id": ref})
    answers = [(await communicator.receive_json_from(timeout=5))["ref"] for _ in range(3)]
    await communicator.disconnect()
    assert answers == ["b1", "a1", "a2"]
    assert log.index("end a1") < log.index("start a2")  # one thread: one after the other
    assert log.index("start b1") < log.index("end a1")  # another thread: alongside


async def test_a_failing_reply_answers_an_error_and_the_socket_stays(acme, monkeypatch):  # type: ignore[no-untyped-def]
    from chat.console import consumer

    async def broken(agent, frame, utc):  # type: ignore[no-untyped-def]
        raise RuntimeError("database fell over")

    monkeypatch.setattr(consumer, "_reply", broken)
    communicator = await welcomed_console(acme.alice.user)
    await communicator.send_json_to(SEND | {"thread_id": 1})
    error = await communicator.receive_json_from(timeout=5)
    await communicator.send_json_to({"type": "ping", "ref": "p"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong", "ref": "p"}
    await communicator.disconnect()
    assert (error["type"], error["code"], error["ref"]) == ("error", "server_error", "a")


async def test_a_reply_survives_the_loops_connection_dying(acme):  # type: ignore[no-untyped-def]
    from tests.gateway.test_in_loop_write import _terminate_loop_connections

    contact = await _accepted_by_alice(acme)
    communicator = await welcomed_console(acme.alice.user)
    await communicator.send_json_to(SEND | {"thread_id": contact.thread_id, "client_id": "r1", "ref": "a"})
    assert (await answer_to(communicator, "a"))["created"] is True
    assert await _terminate_loop_connections() >= 1
    await communicator.send_json_to(SEND | {"thread_id": contact.thread_id, "client_id": "r2", "ref": "b"})
    second = await answer_to(communicator, "b")
    await communicator.disconnect()
    assert (second["type"], second["created"], second["message"]["sequence"]) == ("sent", True, 3)
    assert await database_sync_to_async(Message.objects.count)() == 3


async def test_a_reply_to_an_accepted_contact_is_checked_by_its_write_alone(acme, monkeypatch):  # type: ignore[no-untyped-def]
    contact = await _accepted_by_alice(acme)
    verdicts: list[object] = []
    checked = inbox.athread_for_reply

    async def counted(**kwargs):  # type: ignore[no-untyped-def]
        verdicts.append(kwargs)
        return await checked(**kwargs)

    monkeypatch.setattr(inbox, "athread_for_reply", counted)
    sent = await _reply_as(acme.alice.user, contact.thread_id)
    assert (sent["type"], sent["message"]["sequence"]) == ("sent", 2)
    assert verdicts == []  # no read before the write
    refused = await _reply_as(acme.bob.user, contact.thread_id)
    assert (refused["type"], refused["code"]) == ("error", "not_assigned")
    assert len(verdicts) == 1  # the write refused: the verdict says why


def _remove_bobs_queues(acme):  # type: ignore[no-untyped-def]
    acme.bob.queues.clear()


def _make_bob_admin(acme):  # type: ignore[no-untyped-def]
    type(acme.bob).objects.filter(pk=acme.bob.pk).update(role="admin")


@pytest.mark.parametrize(
    ("writer", "change", "note", "recheck", "written"),
    [
        ("alice", None, False, False, True),
        ("alice", None, False, True, True),
        ("bob", None, False, False, False),  # the contact is alice's
        ("bob", None, True, False, True),  # a note needs no assignment
        ("admin", None, False, False, True),  # nor does an administrator's reply
        ("globex", None, False, False, False),  # another tenant's thread
        ("globex", None, True, False, False),
        ("bob", _remove_bobs_queues, True, False, False),  # no queue of bob's serves the channel
        ("bob", _make_bob_admin, True, True, False),  # the role read when the socket opened changed
    ],
)
async def test_the_write_itself_makes_every_check_of_a_reply(acme, globex, writer, change, note, recheck, written):  # type: ignore[no-untyped-def]
    contact = await _accepted_by_alice(acme)
    agent = {"alice": acme.alice, "bob": acme.bob, "admin": acme.admin, "globex": globex.admin}[writer]
    if change is not None:
        await database_sync_to_async(change)(acme)
    result = await services.areply_create(
        agent=agent,
        thread_id=contact.thread_id,
        content={"text": "Hi"},
        client_id="r1",
        is_internal=note,
        recheck_agent=recheck,
    )
    stored = await database_sync_to_async(lambda: list(Message.objects.values_list("client_id", flat=True)))()
    if written:
        assert result is not None
        assert (result.snapshot["message"]["author_agent_id"], result.snapshot["message"]["sequence"]) == (agent.pk, 2)
        assert stored.count("r1") == 1
    else:
        assert result is None
        assert "r1" not in stored


async def test_a_reply_and_its_push_share_one_rendering_and_the_socket_asks_its_zone_once(acme, monkeypatch):  # type: ignore[no-untyped-def]
    from chat.console import consumer, rendering

    contact = await _accepted_by_alice(acme)
    rendered: list[int] = []
    zones_asked: list[bool] = []
    agent_ref, ask = rendering._agent_ref, rendering.datetimes_in_utc

    def counted_agent_ref(agent):  # type: ignore[no-untyped-def]
        rendered.append(agent["id"])  # once per rendering of a message, whoever renders it
        return agent_ref(agent)

    def counted_ask():  # type: ignore[no-untyped-def]
        zones_asked.append(ask())
        return zones_asked[-1]

    monkeypatch.setattr(rendering, "_agent_ref", counted_agent_ref)
    monkeypatch.setattr(consumer, "datetimes_in_utc", counted_ask)
    monkeypatch.setattr(rendering, "datetimes_in_utc", counted_ask)  # nor asked by the rendering itself
    communicator = await welcomed_console(acme.alice.user)
    frames = []
    for number, ref in enumerate(("a", "b")):
        await communicator.send_json_to(SEND | {"thread_id": contact.thread_id, "client_id": f"r{number}", "ref": ref})
        while sum(frame["type"] in ("sent", "message") for frame in frames) < 2 * (number + 1):
            frames.append(await communicator.receive_json_from(timeout=5))
    await communicator.disconnect()

    sent = [frame for frame in frames if frame["type"] == "sent"]
    pushed = [frame for frame in frames if frame["type"] == "message"]
    assert [frame["message"] for frame in sent] == [frame["message"] for frame in pushed]
    assert [frame["message"]["sequence"] for frame in sent] == [2, 3]
    assert rendered == [acme.alice.pk, acme.alice.pk]  # once each, for the answer; the push found it rendered
    assert zones_asked == [True]  # when the socket opened (UTC, the test settings' zone)
