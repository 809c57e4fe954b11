"""Routing under concurrent routers and agents, on PostgreSQL with real commits.

Each worker thread has its own database connection, as separate daphne
processes would: only row locks keep them apart.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest
from django.db import connection, transaction

from chat import assignment, events
from chat.errors import AgentAtCapacity, AlreadyAssigned
from chat.models import Contact
from engage.models import Membership
from tests.concurrency import run_concurrently
from tests.console.helpers import set_presence, waiting_contact

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """A key prefix of its own: the shared Redis cache is never flushed."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"console-test-{uuid.uuid4().hex}"}}


def _first_assignments(published) -> Counter:
    """How many times each contact went from nobody to an agent."""
    return Counter(
        e.contact_id
        for e in published
        if isinstance(e, events.ContactAssigned) and e.agent_id is not None and e.previous_agent_id is None
    )


def test_concurrent_routers_never_double_assign_nor_exceed_capacity(acme, published):
    contacts = [waiting_contact(acme, f"c{n}") for n in range(30)]
    for member, capacity in ((acme.alice, 4), (acme.bob, 3), (acme.admin, 2)):
        set_presence(member, "available", capacity=capacity)
    published.clear()

    def route(index: int) -> None:
        for _ in range(3):
            assignment.tenant_route(tenant_id=acme.tenant.pk)

    assert run_concurrently(8, route) == []
    loads = assignment.agent_loads(agent_ids=[acme.alice.pk, acme.bob.pk, acme.admin.pk])
    assert loads == {acme.alice.pk: 4, acme.bob.pk: 3, acme.admin.pk: 2}
    first = _first_assignments(published)
    assert len(first) == 9
    assert set(first.values()) == {1}
    # Oldest first: exactly the nine oldest contacts were served.
    assert set(first) == {c.pk for c in contacts[:9]}
    assert Contact.objects.filter(pk__in=[c.pk for c in contacts], assigned_agent__isnull=True).count() == 21


def test_concurrent_picks_of_one_contact_have_one_winner(acme, published):
    contact = waiting_contact(acme, "contested")
    agents = [acme.alice, acme.bob, acme.admin]
    outcomes: list[str] = []

    def pick(index: int) -> None:
        try:
            assignment.contact_pick(contact=contact, agent=agents[index % 3])
            outcomes.append("won")
        except AlreadyAssigned:
            outcomes.append("refused")

    assert run_concurrently(9, pick) == []
    contact.refresh_from_db()
    winner = contact.assigned_agent_id
    # The winner's repeated picks are no-ops; everyone else is refused.
    winners = sum(1 for i, o in enumerate(outcomes) if o == "won")
    assert winners == 3
    assert outcomes.count("refused") == 6
    assert winner in {a.pk for a in agents}
    assert _first_assignments(published) == Counter({contact.pk: 1})


def test_concurrent_picks_and_routing_respect_capacity(acme, published):
    contacts = [waiting_contact(acme, f"c{n}") for n in range(12)]
    set_presence(acme.alice, "available", capacity=3)
    Membership.objects.filter(pk__in=[acme.bob.pk, acme.admin.pk]).update(presence="offline")
    published.clear()
    refusals: list[str] = []

    def work(index: int) -> None:
        if index % 2:
            assignment.tenant_route(tenant_id=acme.tenant.pk)
            return
        for contact in contacts[index::6]:
            try:
                assignment.contact_pick(contact=contact, agent=acme.alice)
            except (AgentAtCapacity, AlreadyAssigned) as error:
                refusals.append(error.code)

    assert run_concurrently(12, work) == []
    assert assignment.agent_loads(agent_ids=[acme.alice.pk]) == {acme.alice.pk: 3}
    first = _first_assignments(published)
    assert sum(first.values()) == 3
    assert set(first.values()) == {1}


@pytest.mark.parametrize("action", ["custom_fields", "assign"])
def test_contact_writes_do_not_deadlock_with_a_message_being_written(acme, action):
    """A message write locks the thread, then its insert needs the contact (foreign key).

    A contact write that also locked the thread (FOR UPDATE over a join) would wait for
    the thread while holding the contact: PostgreSQL reports a deadlock.
    """
    from chat import services
    from chat.models import Message, Thread

    contact = waiting_contact(acme, "writer")
    thread_locked = threading.Event()
    errors: list[BaseException] = []

    def write_message() -> None:
        try:
            with transaction.atomic():
                locked = Thread.objects.select_for_update().get(pk=contact.thread_id)
                thread_locked.set()
                time.sleep(0.6)  # the contact write runs now
                Message.objects.create(
                    tenant=acme.tenant,
                    thread=locked,
                    contact=contact,
                    sequence=99,
                    client_id="racing",
                    direction="inbound",
                    author_type="customer",
                    content={"text": "racing"},
                )
        except BaseException as error:  # collected for the assertion
            errors.append(error)
        finally:
            connection.close()

    writer = threading.Thread(target=write_message)
    writer.start()
    assert thread_locked.wait(10)
    if action == "custom_fields":
        services.contact_update_custom_fields(contact=contact, values={"order_number": "A-1"})
    else:
        services.contact_assign(contact=contact, agent=acme.alice)
    writer.join(30)
    assert errors == []
    assert Message.objects.filter(thread_id=contact.thread_id, client_id="racing").count() == 1


def test_a_contact_locked_by_a_message_write_is_routed_once_the_write_commits(acme, published, monkeypatch):
    """The router skips locked contacts (``SKIP LOCKED``); a message being written holds its open
    contact's lock (chat._sql.open_contact_lock). A contact skipped that way while an agent was
    free is routed by the same call once the write committed, not left waiting for another event."""
    from chat import _sql

    contact = waiting_contact(acme, "typing-while-routed")
    Membership.objects.filter(pk__in=[acme.bob.pk, acme.admin.pk]).update(presence="offline")
    published.clear()
    locked, release, released = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def write_message() -> None:
        try:
            with transaction.atomic():
                assert _sql.open_contact_lock(connection, contact.thread_id) == contact.pk
                locked.set()
                release.wait(10)
        except BaseException as error:  # collected for the assertion
            errors.append(error)
        finally:
            connection.close()
            released.set()

    pauses: list[float] = []

    def pause(seconds: float) -> None:  # the router waits for the lock's holder: it commits now
        pauses.append(seconds)
        release.set()
        released.wait(10)

    monkeypatch.setattr(assignment, "_route_pause", pause)
    writer = threading.Thread(target=write_message)
    writer.start()
    assert locked.wait(10)
    set_presence(acme.alice, "available", capacity=2)
    routed = assignment.tenant_route(tenant_id=acme.tenant.pk)
    release.set()
    writer.join(10)

    assert errors == []
    assert [c.pk for c in routed] == [contact.pk]
    assert pauses == [assignment.ROUTE_RETRY_PAUSE]
    contact.refresh_from_db()
    assert contact.assigned_agent_id == acme.alice.pk
    assert _first_assignments(published) == Counter({contact.pk: 1})


def test_a_contact_locked_for_longer_than_the_retries_stays_waiting_and_is_logged(acme, monkeypatch, caplog):
    from chat import _sql

    contact = waiting_contact(acme, "long-lock")
    Membership.objects.filter(pk__in=[acme.bob.pk, acme.admin.pk]).update(presence="offline")
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                _sql.open_contact_lock(connection, contact.thread_id)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    pauses: list[float] = []
    monkeypatch.setattr(assignment, "_route_pause", pauses.append)
    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    set_presence(acme.alice, "available", capacity=2)
    try:
        assert assignment.tenant_route(tenant_id=acme.tenant.pk) == []
    finally:
        release.set()
        holder.join(10)
    assert pauses == [assignment.ROUTE_RETRY_PAUSE * 2**n for n in range(assignment.ROUTE_RETRIES)]
    assert Contact.objects.get(pk=contact.pk).assigned_agent_id is None
    assert "waiting contacts were locked" in caplog.text
