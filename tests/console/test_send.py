"""Replies over the console socket (``send``): the REST endpoint's checks, idempotent by client_id."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from chat import assignment, events
from chat.models import Message
from engage.models import Membership
from tests.console.helpers import answer_to, waiting_contact, welcomed_console

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("own_cache")]
API = "/api/v1"


def _api(member) -> APIClient:
    client = APIClient()
    client.force_authenticate(member.user)
    return client


def _mine(acme):
    """A messaging contact accepted by alice: one customer message (sequence 1)."""
    contact = waiting_contact(acme, "cust-1", text="first")
    return assignment.contact_pick(contact=contact, agent=acme.alice)


def _count(**filters) -> int:
    return Message.objects.filter(**filters).count()


async def test_a_reply_is_written_once_and_answered_as_the_rest_api_shows_it(acme, published):
    contact = await database_sync_to_async(_mine)(acme)
    thread_id = contact.thread_id
    communicator = await welcomed_console(acme.alice.user)
    published.clear()
    frame = {"type": "send", "thread_id": thread_id, "client_id": "r1", "text": "Hello!", "ref": "a"}
    await communicator.send_json_to(frame)
    sent = await answer_to(communicator, "a")
    await communicator.send_json_to({**frame, "ref": "b"})  # the retry of a reply whose answer was lost
    again = await answer_to(communicator, "b")
    await communicator.disconnect()

    assert (sent["type"], sent["thread_id"], sent["created"]) == ("sent", thread_id, True)
    assert (again["type"], again["created"]) == ("sent", False)
    rest = await database_sync_to_async(
        lambda: _api(acme.alice).get(f"{API}/threads/{thread_id}/messages/?after=1").json()["results"]
    )()
    assert rest == [sent["message"]]
    assert again["message"] == sent["message"]
    message = sent["message"]
    assert (message["sequence"], message["client_id"], message["direction"], message["is_internal"]) == (
        2,
        "r1",
        "outbound",
        False,
    )
    assert message["author_agent"] == {"id": acme.alice.pk, "name": "Alice Agent"}
    assert message["content"]["text"] == "Hello!"
    assert await database_sync_to_async(_count)(thread_id=thread_id, client_id="r1") == 1
    created = [e for e in published if isinstance(e, events.MessageCreated)]
    assert [(e.sequence, e.author_type) for e in created] == [(2, "agent")]


async def test_a_retry_over_rest_after_a_socket_send_returns_the_original(acme):
    """The console falls back to REST with the same client_id: never a second message."""
    contact = await database_sync_to_async(_mine)(acme)
    communicator = await welcomed_console(acme.alice.user)
    await communicator.send_json_to(
        {"type": "send", "thread_id": contact.thread_id, "client_id": "c-9", "text": "Hi", "ref": 1}
    )
    sent = await answer_to(communicator, 1)
    await communicator.disconnect()
    response = await database_sync_to_async(
        lambda: _api(acme.alice).post(
            f"{API}/threads/{contact.thread_id}/messages/", {"text": "Hi", "client_id": "c-9"}, format="json"
        )
    )()
    assert response.status_code == 200
    assert response.json() == sent["message"]
    assert await database_sync_to_async(_count)(thread_id=contact.thread_id) == 2


async def test_only_an_agent_who_may_reply_sends_but_anyone_may_leave_a_note(acme, published):
    contact = await database_sync_to_async(_mine)(acme)
    communicator = await welcomed_console(acme.bob.user)
    published.clear()
    await communicator.send_json_to(
        {"type": "send", "thread_id": contact.thread_id, "client_id": "b1", "text": "mine now", "ref": "r"}
    )
    refused = await answer_to(communicator, "r")
    assert (refused["type"], refused["code"]) == ("error", "not_assigned")
    assert await database_sync_to_async(_count)(thread_id=contact.thread_id) == 1
    assert published == []

    note_frame = {"type": "send", "thread_id": contact.thread_id, "client_id": "b2", "text": "fyi", "is_internal": True}
    await communicator.send_json_to({**note_frame, "ref": 2})
    note = await answer_to(communicator, 2)
    await communicator.disconnect()
    assert (note["type"], note["created"], note["message"]["is_internal"]) == ("sent", True, True)
    assert note["message"]["author_agent"] == {"id": acme.bob.pk, "name": "Bob Agent"}


async def test_globex_cannot_send_into_an_acme_thread(acme, globex, published):
    contact = await database_sync_to_async(_mine)(acme)
    communicator = await welcomed_console(globex.admin.user)
    published.clear()
    for ref, extra in (("reply", {}), ("note", {"is_internal": True})):
        await communicator.send_json_to(
            {"type": "send", "thread_id": contact.thread_id, "client_id": ref, "text": "hi", "ref": ref, **extra}
        )
        answer = await answer_to(communicator, ref)
        assert answer == {"type": "error", "code": "thread_not_found", "message": "Unknown thread.", "ref": ref}
    await communicator.disconnect()
    assert await database_sync_to_async(_count)(thread_id=contact.thread_id) == 1
    assert published == []


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"client_id": None}, "invalid_frame"),
        ({"client_id": "   "}, "invalid_frame"),
        ({"client_id": "x" * 201}, "invalid_frame"),
        ({"thread_id": "7"}, "invalid_frame"),
        ({"text": 5}, "invalid_frame"),
        ({"content_type": "HTML"}, "invalid_frame"),
        ({"content": "hi"}, "invalid_frame"),
        ({"is_internal": "yes"}, "invalid_frame"),
        ({"attachment_ids": "x"}, "invalid_frame"),
        ({"attachment_ids": ["not-a-uuid"]}, "invalid_frame"),
        ({"attachment_ids": [str(uuid.uuid4()) for _ in range(11)]}, "invalid_frame"),
        ({"attachment_ids": [str(uuid.uuid4())]}, "invalid_attachment"),
        ({"text": ""}, "invalid_content"),
        ({"text": "x" * 16_001}, "invalid_content"),
        (
            {"content_type": "RICH_LINK", "content": {"payload": {"title": "x", "url": "javascript:1"}}},
            "invalid_content",
        ),
    ],
)
async def test_what_the_rest_api_refuses_the_socket_refuses_and_writes_nothing(acme, extra, code):
    contact = await database_sync_to_async(_mine)(acme)
    communicator = await welcomed_console(acme.alice.user)
    frame = {"type": "send", "thread_id": contact.thread_id, "client_id": "bad", "text": "hi", "ref": "x", **extra}
    await communicator.send_json_to({key: value for key, value in frame.items() if value is not None})
    answer = await answer_to(communicator, "x")
    assert (answer["type"], answer["code"]) == ("error", code)
    # The socket stays open and usable.
    await communicator.send_json_to({"type": "ping", "ref": "p"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong", "ref": "p"}
    await communicator.disconnect()
    assert await database_sync_to_async(_count)(thread_id=contact.thread_id) == 1


async def test_a_frame_over_64_kib_is_refused(acme):
    contact = await database_sync_to_async(_mine)(acme)
    communicator = await welcomed_console(acme.alice.user)
    await communicator.send_json_to(
        {"type": "send", "thread_id": contact.thread_id, "client_id": "big", "text": "x" * (64 * 1024)}
    )
    answer = await communicator.receive_json_from(timeout=5)
    assert (answer["type"], answer["code"]) == ("error", "invalid_frame")
    await communicator.disconnect()
    assert await database_sync_to_async(_count)(thread_id=contact.thread_id) == 1


async def test_an_uploaded_attachment_is_sent_once(acme):
    contact = await database_sync_to_async(_mine)(acme)

    def upload() -> str:
        file = SimpleUploadedFile("receipt.pdf", b"%PDF-1.4 test", content_type="application/pdf")
        response = _api(acme.alice).post(
            f"{API}/attachments/", {"thread_id": contact.thread_id, "file": file}, format="multipart"
        )
        assert response.status_code == 201
        return response.json()["id"]

    attachment = await database_sync_to_async(upload)()
    communicator = await welcomed_console(acme.alice.user)
    frame = {"type": "send", "thread_id": contact.thread_id, "text": "Your receipt", "attachment_ids": [attachment]}
    await communicator.send_json_to({**frame, "client_id": "f1", "ref": 1})
    sent = await answer_to(communicator, 1)
    await communicator.send_json_to({**frame, "client_id": "f2", "ref": 2})
    reused = await answer_to(communicator, 2)
    await communicator.disconnect()
    assert [(a["id"], a["file_name"], a["size"]) for a in sent["message"]["attachments"]] == [
        (attachment, "receipt.pdf", 13)
    ]
    assert (reused["type"], reused["code"]) == ("error", "invalid_attachment")
    stored = await database_sync_to_async(
        lambda: list(Message.objects.filter(thread_id=contact.thread_id).values_list("client_id", flat=True))
    )()
    assert sorted(stored) == ["cust-1-1", "f1"]


async def _closed_with(communicator) -> int:
    for _ in range(20):
        output = await communicator.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output["code"]
    raise AssertionError("the socket stayed open")


@pytest.mark.parametrize("change", ["demoted", "deactivated"])
async def test_a_stale_membership_closes_the_socket_and_writes_nothing(acme, published, change):
    """Rights read at connect are checked again with every send; the console reconnects."""
    contact = await database_sync_to_async(_mine)(acme)  # alice's: only an administrator may reply too
    communicator = await welcomed_console(acme.admin.user)

    def apply() -> None:
        if change == "demoted":
            Membership.objects.filter(pk=acme.admin.pk).update(role=Membership.Role.AGENT)
        else:
            type(acme.admin.user).objects.filter(pk=acme.admin.user_id).update(is_active=False)

    await database_sync_to_async(apply)()
    published.clear()
    await communicator.send_json_to(
        {"type": "send", "thread_id": contact.thread_id, "client_id": "s1", "text": "still admin?", "ref": 1}
    )
    assert await _closed_with(communicator) == 4409
    assert await database_sync_to_async(_count)(thread_id=contact.thread_id) == 1
    assert published == []
