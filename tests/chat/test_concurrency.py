"""Sequence numbers and idempotency under concurrent writers, on PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from chat import services
from chat.errors import ThreadLocked
from chat.models import Contact, Message, Thread
from tests.concurrency import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_writers_get_gap_free_unique_sequences(acme):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="busy")

    def write(index: int) -> None:
        for n in range(10):
            services.message_create(
                thread=thread, author_type="customer", content={"text": f"{index}-{n}"}, client_id=f"{index}-{n}"
            )

    errors = run_concurrently(8, write)
    assert errors == []
    sequences = list(Message.objects.filter(thread=thread).order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, 81))
    assert Contact.objects.filter(thread=thread).count() == 1


def test_concurrent_retries_of_one_client_id_create_one_message(acme):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="retry")
    results = []

    def send(index: int) -> None:
        results.append(
            services.message_create(thread=thread, author_type="customer", content={"text": "once"}, client_id="same")
        )

    errors = run_concurrently(8, send)
    assert errors == []
    assert Message.objects.filter(thread=thread).count() == 1
    assert sorted(result.created for result in results) == [False] * 7 + [True]
    assert len({result.message.pk for result in results}) == 1


def test_concurrent_retries_on_a_thread_with_an_open_contact_leave_no_gap(acme, published):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="retry-open")
    services.message_create(thread=thread, author_type="customer", content={"text": "first"}, client_id="first")
    published.clear()
    results = []

    def send(index: int) -> None:
        results.append(
            services.message_create(thread=thread, author_type="customer", content={"text": "once"}, client_id="same")
        )

    assert run_concurrently(8, send) == []
    assert sorted(result.created for result in results) == [False] * 7 + [True]
    assert {result.message.sequence for result in results} == {2}
    assert [event.name for event in published] == ["message.created"]
    after = services.message_create(thread=thread, author_type="customer", content={"text": "next"}, client_id="n")
    assert after.message.sequence == 3
    sequences = list(Message.objects.filter(thread=thread).order_by("sequence").values_list("sequence", flat=True))
    assert sequences == [1, 2, 3]


def test_concurrent_first_messages_open_and_announce_one_contact(acme, published):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="first-race")
    published.clear()

    def write(index: int) -> None:
        services.message_create(thread=thread, author_type="customer", content={"text": "hi"}, client_id=str(index))

    assert run_concurrently(8, write) == []
    contact = Contact.objects.get(thread=thread)
    assert [event.contact_id for event in published if event.name == "contact.created"] == [contact.pk]
    assert set(Message.objects.filter(thread=thread).values_list("contact_id", flat=True)) == {contact.pk}


def test_concurrent_first_contacts_of_one_customer_make_one_customer(acme):
    ids = []

    def identify(index: int) -> None:
        ids.append(services.customer_identify(brand=acme.brand, id_on_external_platform="racer").pk)

    assert run_concurrently(8, identify) == []
    assert len(set(ids)) == 1


def _second_waits_for_the_first(first, second) -> dict:
    """Runs ``first()`` in a transaction that holds on until ``second()``, in another
    connection, waits for a lock; returns both results (what ``second`` began before
    ``first`` committed, it cannot see; what ``second`` raised is its result)."""
    holding, release = threading.Event(), threading.Event()
    results = {}

    def run_first() -> None:
        try:
            with transaction.atomic():
                results["first"] = first()
                holding.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    def run_second() -> None:
        try:
            holding.wait(timeout=60)
            results["second"] = second()
        except Exception as error:
            results["second"] = error
        finally:
            connection.close()

    workers = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for worker in workers:
        worker.start()
    holding.wait(timeout=60)
    waiting = 0
    for _ in range(600):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            (waiting,) = cursor.fetchone()
        if waiting:
            break
        time.sleep(0.05)
    release.set()
    for worker in workers:
        worker.join(timeout=60)
    assert waiting == 1
    return results


def test_a_retry_that_waited_for_its_original_to_commit_returns_it(acme):
    """The retry's statement began before the original committed: only the unique constraint can tell."""
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="waited")
    services.message_create(thread=thread, author_type="customer", content={"text": "first"}, client_id="first")

    def send():
        return services.message_create(thread=thread, author_type="customer", content={"text": "x"}, client_id="same")

    results = _second_waits_for_the_first(send, send)
    assert (results["first"].created, results["second"].created) == (True, False)
    assert results["second"].message.pk == results["first"].message.pk
    sequences = list(Message.objects.filter(thread=thread).order_by("sequence").values_list("sequence", flat=True))
    assert (sequences, Thread.objects.get(pk=thread.pk).last_sequence) == ([1, 2], 2)


def test_a_first_message_that_waited_for_another_shares_the_contact_it_opened(acme, published):
    """The second writer's read began before the first opened the contact: the one-open-contact
    constraint settles it, and only one ContactCreated is published."""
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="opened")
    published.clear()

    def send(client_id):
        fresh = Thread.objects.get(pk=thread.pk)  # no message yet: the transaction path
        return services.message_create(thread=fresh, author_type="customer", content={"text": "x"}, client_id=client_id)

    results = _second_waits_for_the_first(lambda: send("a"), lambda: send("b"))
    contact = Contact.objects.get(thread=thread)
    assert (results["first"].message.contact_id, results["second"].message.contact_id) == (contact.pk, contact.pk)
    assert (results["first"].message.sequence, results["second"].message.sequence) == (1, 2)
    assert [event.contact_id for event in published if event.name == "contact.created"] == [contact.pk]


def test_a_customer_message_that_waited_for_the_lock_of_the_thread_is_refused(acme, published):
    """The row it waited for is read again once the lock is free: the thread is locked now."""
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="locking")
    services.message_create(thread=thread, author_type="customer", content={"text": "first"}, client_id="first")
    published.clear()
    results = _second_waits_for_the_first(
        lambda: services.thread_set_locked(thread=Thread.objects.get(pk=thread.pk), locked=True),
        lambda: services.message_create(thread=thread, author_type="customer", content={"text": "x"}, client_id="2"),
    )
    assert isinstance(results["second"], ThreadLocked)
    assert (Message.objects.filter(thread=thread).count(), Thread.objects.get(pk=thread.pk).last_sequence) == (1, 1)
    assert [event.name for event in published] == ["thread.updated"]


def _with_open_contact(acme, public_id: str) -> tuple[Thread, Contact]:  # type: ignore[no-untyped-def]
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id=public_id)
    first = services.message_create(thread=thread, author_type="customer", content={"text": "hi"}, client_id="1")
    return thread, first.message.contact


@pytest.mark.parametrize("path", ["one statement", "transaction"])
def test_a_customer_message_that_waited_for_its_contact_to_close_opens_a_new_one(acme, published, path):
    """The contact the message's statement read as open was closed by a transaction that
    committed while the statement waited: the message goes to a new contact, which is routed
    (before, it joined the closed one and no agent was ever asked to answer it)."""
    thread, contact = _with_open_contact(acme, f"closing-{path.replace(' ', '-')}")
    published.clear()

    def send():
        if path == "transaction":  # the long way: attachments, or a caller's transaction
            with transaction.atomic():
                return services.message_create(
                    thread=thread, author_type="customer", content={"text": "x"}, client_id="2"
                )
        return services.message_create(thread=thread, author_type="customer", content={"text": "x"}, client_id="2")

    results = _second_waits_for_the_first(
        lambda: services.contact_set_status(contact=Contact.objects.get(pk=contact.pk), status="closed"),
        send,
    )

    message = results["second"].message
    new = Contact.objects.get(thread=thread, status__in=Contact.OPEN_STATUSES)
    assert (message.sequence, message.contact_id, Message.objects.get(pk=message.pk).contact_id) == (2, new.pk, new.pk)
    assert new.pk != contact.pk
    # Each transaction's events are published by its own thread, after its own commit: in any order.
    assert sorted((event.name, event.contact_id) for event in published if event.name.startswith("contact.")) == [
        ("contact.created", new.pk),
        ("contact.status_changed", contact.pk),
    ]


def test_notes_replies_and_customer_messages_on_one_thread_never_deadlock(acme):
    """Every writer of a message takes the open contact's lock before the thread's (a note takes
    none): a mix of them on one thread, in any order, all commit."""
    from chat import assignment

    thread, contact = _with_open_contact(acme, "mixed")
    assignment.contact_pick(contact=contact, agent=acme.alice)

    def write(index: int) -> None:
        for n in range(8):
            kind = (index + n) % 3
            if kind == 0:
                services.message_create(
                    thread=thread, author_type="customer", content={"text": "c"}, client_id=f"c-{index}-{n}"
                )
            else:
                services.message_create(
                    thread=thread,
                    author_type="agent",
                    agent=acme.alice,
                    is_internal=kind == 2,
                    content={"text": "a"},
                    client_id=f"a-{index}-{n}",
                )

    assert run_concurrently(8, write) == []
    sequences = list(Message.objects.filter(thread=thread).order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, 66))


def test_a_first_message_whose_rivals_contact_closed_at_once_opens_another(acme, monkeypatch, published):
    """The one-open-contact constraint said a rival opened a contact, and the rival's contact was
    closed before this writer could lock it: the message opens a contact of its own."""
    from chat import _sql

    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="lost-rival")
    insert, refused = _sql.contact_insert, []

    def lost_once(connection, contact, channel_id):  # type: ignore[no-untyped-def]
        if not refused:
            refused.append(contact)
            return False  # as when a rival's contact conflicted, and was closed right after
        return insert(connection, contact, channel_id)

    monkeypatch.setattr(_sql, "contact_insert", lost_once)
    result = services.message_create(thread=thread, author_type="customer", content={"text": "hi"}, client_id="1")

    contact = Contact.objects.get(thread=thread)
    assert (len(refused), result.message.contact_id, contact.status) == (1, contact.pk, "new")
    assert [event.contact_id for event in published if event.name == "contact.created"] == [contact.pk]
