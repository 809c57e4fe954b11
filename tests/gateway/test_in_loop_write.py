"""SendMessage's common case is written from the event loop (``services.amessage_create``), with the
same guarantees as the worker path it falls back to."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from chat import services, snapshots
from chat.models import Contact, Message, Thread
from engage.lib import aiodb, loops

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

db = database_sync_to_async


def send_data(thread_id: str, body: str, message_id: str):  # type: ignore[no-untyped-def]
    return {
        "messageContent": {"type": "TEXT", "payload": {"text": body}},
        "idOnExternalPlatform": message_id,
        "thread": {"idOnExternalPlatform": thread_id},
    }


@pytest.fixture
def no_worker_write(monkeypatch):  # type: ignore[no-untyped-def]
    """Fails the test if a message is written the worker's way."""
    calls: list[dict] = []  # type: ignore[type-arg]

    def refuse(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        raise AssertionError("written in a worker")

    def install() -> list[dict]:  # type: ignore[type-arg]
        monkeypatch.setattr(services, "message_create", refuse)
        return calls

    return install


async def test_a_text_to_a_known_thread_is_written_in_the_loop(acme, visitor_socket, no_worker_write):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "first", "msg-1"))  # a new thread: the worker's
    await visitor.push("MessageCreated")
    calls = no_worker_write()
    answer = await visitor.request("SendMessage", send_data("thread-A", "second", "msg-2"))
    assert "error" not in answer
    pushed = (await visitor.push("MessageCreated"))["data"]["message"]
    assert (pushed["idOnExternalPlatform"], pushed["sequence"], pushed["messageContent"]["payload"]) == (
        "msg-2",
        2,
        {"text": "second"},
    )
    assert calls == []
    rows = await db(lambda: [(m.client_id, m.sequence, m.text, m.contact_id) for m in Message.objects.order_by("id")])()
    contact = await db(Contact.objects.get)()
    assert rows == [("msg-1", 1, "first", contact.pk), ("msg-2", 2, "second", contact.pk)]
    thread = await db(Thread.objects.get)(public_id="thread-A")
    assert thread.last_sequence == 2


async def test_a_retry_after_a_write_in_the_loop_returns_the_original(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "first", "msg-1"))
    await visitor.push("MessageCreated")
    await visitor.request("SendMessage", send_data("thread-A", "second", "msg-2"))
    await visitor.push("MessageCreated")
    again = await visitor.request("SendMessage", send_data("thread-A", "second", "msg-2"))
    assert "error" not in again
    assert await visitor.pushes() == []
    assert await db(lambda: list(Message.objects.order_by("id").values_list("client_id", "sequence")))() == [
        ("msg-1", 1),
        ("msg-2", 2),
    ]


async def test_invalid_input_is_refused_in_the_loop_and_writes_nothing(acme, visitor_socket, no_worker_write):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "first", "msg-1"))
    await visitor.push("MessageCreated")
    no_worker_write()
    bad = send_data("thread-A", "x", "msg-2")
    bad["messageContent"]["payload"]["text"] = 42
    refused = await visitor.request("SendMessage", bad)
    assert refused["error"]["reason"] == "invalid_input"
    assert await db(Message.objects.count)() == 1


async def test_a_message_closed_contact_goes_the_worker_way_and_opens_a_new_one(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "first", "msg-1"))
    await visitor.push("MessageCreated")
    contact = await db(Contact.objects.get)()
    await db(services.contact_set_status)(contact=contact, status="closed")
    answer = await visitor.request("SendMessage", send_data("thread-A", "again", "msg-2"))
    assert "error" not in answer
    contacts = await db(lambda: list(Contact.objects.order_by("id").values_list("status", flat=True)))()
    assert contacts == ["closed", "new"]
    second = await db(Message.objects.get)(client_id="msg-2")
    assert (second.sequence, second.contact_id) == (2, (await db(Contact.objects.order_by("id").last)()).pk)


@db
def _terminate_loop_connections() -> int:
    """What a restarted PostgreSQL (or a dropped link) does to the loop's idle connections."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'parley-loop'"
        )
        return cursor.fetchone()[0]


async def test_a_message_survives_the_loops_connection_dying(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "first", "msg-1"))
    await visitor.push("MessageCreated")
    await visitor.request("SendMessage", send_data("thread-A", "second", "msg-2"))  # opens the loop's connection
    await visitor.push("MessageCreated")
    assert await _terminate_loop_connections() >= 1
    answer = await visitor.request("SendMessage", send_data("thread-A", "third", "msg-3"))
    assert "error" not in answer
    rows = await db(lambda: list(Message.objects.order_by("sequence").values_list("client_id", "sequence")))()
    assert rows == [("msg-1", 1), ("msg-2", 2), ("msg-3", 3)]
    again = await visitor.request("SendMessage", send_data("thread-A", "fourth", "msg-4"))  # a new connection
    assert "error" not in again
    assert await db(Message.objects.count)() == 4


async def _cancelled_then_published(caller, published):  # type: ignore[no-untyped-def]
    """Cancels the write's caller, then waits (up to 2 s) for the write to publish without it."""
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    for _ in range(100):
        if published:
            break
        await asyncio.sleep(0.02)


async def test_a_write_sent_from_the_loop_completes_when_its_caller_is_cancelled(acme, published):  # type: ignore[no-untyped-def]
    thread, _ = await db(services.thread_get_or_create)(channel=acme.messaging, customer=acme.visitor, public_id="t")
    await db(services.message_create)(thread=thread, author_type="customer", content={"text": "first"})
    published.clear()
    caller = asyncio.ensure_future(
        services.amessage_create(thread=thread, author_type="customer", content={"text": "second"}, client_id="m-2")
    )
    await asyncio.sleep(0)  # the write has started
    await _cancelled_then_published(caller, published)
    assert [(event.name, event.sequence) for event in published] == [("message.created", 2)]
    assert await db(lambda: list(Message.objects.order_by("sequence").values_list("client_id", flat=True)))() == [
        f"parley-{thread.pk}-1",
        "m-2",
    ]


async def test_a_write_sent_on_an_open_connection_publishes_when_its_caller_is_cancelled(acme, published):  # type: ignore[no-untyped-def]
    """The common case: the statement goes out in the caller's first step, and its answer is read
    and its event published by a callback, with no task that the caller's cancellation could stop."""
    thread, _ = await db(services.thread_get_or_create)(channel=acme.messaging, customer=acme.visitor, public_id="t")
    await db(services.message_create)(thread=thread, author_type="customer", content={"text": "first"})
    await services.amessage_create(thread=thread, author_type="customer", content={"text": "second"})
    assert aiodb.pool().ready() is not None
    published.clear()
    caller = asyncio.ensure_future(
        services.amessage_create(thread=thread, author_type="customer", content={"text": "third"}, client_id="m-3")
    )
    await asyncio.sleep(0)  # sent
    assert loops.running() == 0  # no task of its own: the answer's callback publishes
    await _cancelled_then_published(caller, published)
    assert [(event.name, event.sequence) for event in published] == [("message.created", 3)]
    assert await db(lambda: list(Message.objects.order_by("sequence").values_list("client_id", flat=True)))() == [
        f"parley-{thread.pk}-1",
        f"parley-{thread.pk}-2",
        "m-3",
    ]


async def test_a_write_whose_connection_cannot_be_used_fails_its_caller_instead_of_hanging(acme, monkeypatch):  # type: ignore[no-untyped-def]
    thread, _ = await db(services.thread_get_or_create)(channel=acme.messaging, customer=acme.visitor, public_id="t")
    await db(services.message_create)(thread=thread, author_type="customer", content={"text": "first"})
    aiodb.close_all()

    async def broken(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("the loop's connection could not be set up")

    monkeypatch.setattr(aiodb.LoopPipelines, "_open", broken)
    with pytest.raises(RuntimeError, match="could not be set up"):
        await asyncio.wait_for(
            services.amessage_create(thread=thread, author_type="customer", content={"text": "second"}), timeout=5
        )
    assert await db(Message.objects.count)() == 1


@pytest.mark.parametrize(("author", "assigned"), [("customer", False), ("agent", False), ("agent", True)])
async def test_the_loops_snapshot_is_the_one_built_from_the_stored_rows(acme, published, author, assigned):  # type: ignore[no-untyped-def]
    """The loop writes plain values and reads back plain values, not instances: its event carries
    exactly the snapshot the worker path builds from the stored rows (``message_snapshot``), every
    column of the message, its assigned agent and author included."""
    thread, _ = await db(services.thread_get_or_create)(channel=acme.messaging, customer=acme.visitor, public_id="t")
    await db(services.message_create)(thread=thread, author_type="customer", content={"text": "first"})
    if assigned:
        contact = await db(Contact.objects.get)(thread=thread)
        await db(services.contact_assign)(contact=contact, agent=acme.alice)
    published.clear()
    agent = await db(lambda: type(acme.alice).objects.select_related("user").get(pk=acme.alice.pk))()
    result = await services.amessage_create(
        thread=thread,
        author_type=author,
        agent=agent if author == "agent" else None,
        content={"text": "second", "postback": "p"} if author == "customer" else {"text": "second"},
        client_id="r-2",
    )
    assert result is not None
    [event] = published

    def stored() -> dict:  # type: ignore[type-arg]
        message = Message.objects.select_related(
            "thread__customer", "contact__assigned_agent__user", "author_agent__user"
        ).get(client_id="r-2")
        return snapshots.message_snapshot(message, thread=message.thread, contact=message.contact)

    expected = await db(stored)()
    assert set(expected["message"]) == {field.attname for field in Message._meta.concrete_fields}
    assert (expected["contact"] is not None, expected["assignee"] is not None) == (True, assigned)
    assert (expected["author"] is not None, expected["message"]["direction"]) == (
        author == "agent",
        "outbound" if author == "agent" else "inbound",
    )
    assert event.snapshot == expected
    assert result.snapshot == expected
    assert (thread.last_sequence, result.snapshot["message"]["sequence"]) == (2, 2)


def test_the_loops_plain_message_has_every_column_of_a_message():  # type: ignore[no-untyped-def]
    plain = services._message_plain(1, 2, "customer", "TEXT", {"text": "hi"}, "m-1", None, False)
    assert set(plain) == {field.attname for field in Message._meta.concrete_fields}


async def test_a_customer_with_fields_left_unread_goes_the_workers_way_and_a_whole_one_is_checked_once(
    acme, monkeypatch
):  # type: ignore[no-untyped-def]
    import json

    from chat.gateway.handlers.messages import send_message_in_loop
    from chat.gateway.protocol import cxone_parse_frame
    from chat.gateway.state import ConnectionState
    from chat.models import Customer

    frame = cxone_parse_frame(
        json.dumps(
            {
                "action": "chatWindowEvent",
                "eventId": "e1",
                "payload": {"eventType": "SendMessage", "data": send_data("t", "hi", "m1")},
            }
        )
    )
    partial = await db(lambda: Customer.objects.only("id", "tenant_id").get(pk=acme.visitor.pk))()
    state = ConnectionState(
        channel=acme.messaging, customer=partial, legacy_customer_id=None, visitor_id="v", base_url="http://testserver"
    )
    checked: list[int] = []
    check = Customer.get_deferred_fields
    monkeypatch.setattr(Customer, "get_deferred_fields", lambda self: checked.append(self.pk) or check(self))

    assert await send_message_in_loop(state, frame) is None  # reading the rest of it may query: a worker's job
    assert state.complete_customer is None
    state.customer = acme.visitor  # loaded whole
    for _ in range(3):  # an unknown thread: the worker's way too, after the customer passed
        assert await send_message_in_loop(state, frame) is None
    assert state.complete_customer is acme.visitor
    assert checked == [acme.visitor.pk, acme.visitor.pk]  # the partial one, then the whole one once


async def test_a_message_written_in_the_loop_while_its_contact_closes_opens_a_new_one(acme):  # type: ignore[no-untyped-def]
    """The loop's statement locks the open contact: a close that commits while it waits is seen,
    and the message goes the worker's way to a new contact instead of joining the closed one."""
    import threading

    from django.db import connection, transaction

    thread, _ = await db(services.thread_get_or_create)(channel=acme.messaging, customer=acme.visitor, public_id="t")
    first = await db(services.message_create)(thread=thread, author_type="customer", content={"text": "hi"})
    closing, release = threading.Event(), threading.Event()

    def close_and_hold() -> None:
        try:
            with transaction.atomic():
                services.contact_set_status(contact=Contact.objects.get(pk=first.message.contact_id), status="closed")
                closing.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    def lock_waits() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0]

    closer = threading.Thread(target=close_and_hold)
    closer.start()
    await asyncio.get_running_loop().run_in_executor(None, closing.wait, 60)
    writer = asyncio.ensure_future(
        services.amessage_create(thread=thread, author_type="customer", content={"text": "x"}, client_id="m-2")
    )
    for _ in range(600):
        if await db(lock_waits)():
            break
        await asyncio.sleep(0.05)
    waited = await db(lock_waits)()
    release.set()
    result = await asyncio.wait_for(writer, 30)
    await asyncio.get_running_loop().run_in_executor(None, closer.join, 30)

    assert (waited, result) == (1, None)  # the loop wrote nothing: the caller goes the worker's way
    written = await db(services.message_create)(
        thread=thread, author_type="customer", content={"text": "x"}, client_id="m-2"
    )
    new = await db(Contact.objects.get)(thread=thread, status__in=Contact.OPEN_STATUSES)
    assert new.pk != first.message.contact_id
    assert (written.created, written.message.sequence, written.message.contact_id) == (True, 2, new.pk)
