"""A console reply without attachments is checked and written from the event loop (``replies.areply_send``)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat import assignment, inbox, services
from chat.models import Message
from tests.console.helpers import waiting_contact, welcomed_console

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("own_cache"), pytest.mark.postgres]


async def _answer(communicator, ref) -> dict:  # type: ignore[no-untyped-def, type-arg]
    for _ in range(20):
        frame = await communicator.receive_json_from(timeout=5)
        if frame["type"] in ("sent", "error") and frame.get("ref") == ref:
            return frame
    raise AssertionError(f"no answer to {ref}")


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
    contact = await database_sync_to_async(
        lambda: assignment.contact_pick(contact=waiting_contact(acme, "cust-1", text="first"), agent=acme.alice)
    )()
    no_worker_reply()
    communicator = await welcomed_console(acme.alice.user)
    await communicator.send_json_to(
        {"type": "send", "thread_id": contact.thread_id, "client_id": "r1", "text": "Hi", "ref": "a"}
    )
    sent = await _answer(communicator, "a")
    await communicator.disconnect()
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
    contact = await database_sync_to_async(
        lambda: assignment.contact_pick(contact=waiting_contact(acme, "cust-1", text="first"), agent=acme.alice)
    )()
    no_worker_reply()
    communicator = await welcomed_console(acme.bob.user)
    await communicator.send_json_to(
        {"type": "send", "thread_id": contact.thread_id, "client_id": "r1", "text": "Hi", "ref": "a"}
    )
    refused = await _answer(communicator, "a")
    await communicator.disconnect()
    assert refused["type"] == "error"
    assert refused["code"] == "not_assigned"
    assert await database_sync_to_async(Message.objects.count)() == 1


async def test_in_the_loop_a_globex_agent_cannot_write_into_an_acme_thread(acme, globex, no_worker_reply):  # type: ignore[no-untyped-def]
    contact = await database_sync_to_async(
        lambda: assignment.contact_pick(contact=waiting_contact(acme, "cust-1", text="first"), agent=acme.alice)
    )()
    no_worker_reply()
    communicator = await welcomed_console(globex.admin.user)
    await communicator.send_json_to(
        {"type": "send", "thread_id": contact.thread_id, "client_id": "r1", "text": "Hi", "ref": "a"}
    )
    refused = await _answer(communicator, "a")
    await communicator.disconnect()
    assert (refused["type"], refused["code"]) == ("error", "thread_not_found")
    assert await database_sync_to_async(Message.objects.count)() == 1
