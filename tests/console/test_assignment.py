"""Routing and the agents' assignment actions (chat.assignment)."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.utils import timezone

from chat import assignment, events, services
from chat.errors import AgentAtCapacity, AlreadyAssigned, ContactClosed, NotQueueMember, NotYourTenant
from chat.models import Contact
from engage.errors import InvalidInput
from engage.events import PresenceChanged
from engage.models import Membership, RoutingQueue
from engage.services import membership_set_presence
from tests.console.helpers import set_presence, waiting_contact

AVAILABLE, AWAY, OFFLINE = "available", "away", "offline"


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """A key prefix of its own: the shared Redis cache is never flushed."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"console-test-{uuid.uuid4().hex}"}}


def _assigned(published):
    return [(e.contact_id, e.agent_id, e.previous_agent_id) for e in published if isinstance(e, events.ContactAssigned)]


def test_a_new_contact_goes_to_the_available_agent(acme, published, django_capture_on_commit_callbacks):
    set_presence(acme.alice, AVAILABLE)
    with django_capture_on_commit_callbacks(execute=True):
        contact = waiting_contact(acme, "c1")
    contact.refresh_from_db()
    assert contact.assigned_agent_id == acme.alice.pk
    assert contact.status == "open"
    assert contact.waiting_since is None
    assert _assigned(published) == [(contact.pk, acme.alice.pk, None)]


def test_away_and_offline_agents_get_nothing(acme, django_capture_on_commit_callbacks):
    set_presence(acme.alice, AWAY)
    set_presence(acme.bob, OFFLINE)
    with django_capture_on_commit_callbacks(execute=True):
        contact = waiting_contact(acme, "c1")
    contact.refresh_from_db()
    assert contact.assigned_agent_id is None
    assert contact.status == "new"
    assert contact.waiting_since is not None


def test_the_agent_with_most_free_capacity_wins(acme):
    busy = waiting_contact(acme, "busy")
    services.contact_assign(contact=busy, agent=acme.alice)
    set_presence(acme.alice, AVAILABLE, capacity=3)
    set_presence(acme.bob, AVAILABLE, capacity=3)
    contact = waiting_contact(acme, "c1")
    assert [c.pk for c in assignment.tenant_route(tenant_id=acme.tenant.pk)] == [contact.pk]
    contact.refresh_from_db()
    assert contact.assigned_agent_id == acme.bob.pk


def test_ties_go_round_robin_by_last_routed(acme):
    set_presence(acme.alice, AVAILABLE, capacity=3)
    set_presence(acme.bob, AVAILABLE, capacity=3)
    Membership.objects.filter(pk=acme.alice.pk).update(last_routed_at=timezone.now())
    Membership.objects.filter(pk=acme.bob.pk).update(last_routed_at=timezone.now() - datetime.timedelta(minutes=5))
    contacts = [waiting_contact(acme, f"c{n}") for n in range(4)]
    routed = assignment.tenant_route(tenant_id=acme.tenant.pk)
    assert [c.pk for c in routed] == [c.pk for c in contacts]
    assert [c.assigned_agent_id for c in routed] == [acme.bob.pk, acme.alice.pk, acme.bob.pk, acme.alice.pk]


def test_oldest_waiting_contact_is_served_first(acme):
    set_presence(acme.alice, AVAILABLE, capacity=1)
    newer = waiting_contact(acme, "newer")
    older = waiting_contact(acme, "older")
    Contact.objects.filter(pk=older.pk).update(waiting_since=timezone.now() - datetime.timedelta(minutes=3))
    routed = assignment.tenant_route(tenant_id=acme.tenant.pk)
    assert [c.pk for c in routed] == [older.pk]
    newer.refresh_from_db()
    assert newer.assigned_agent_id is None


def test_capacity_is_never_exceeded_and_freed_capacity_is_refilled(acme, django_capture_on_commit_callbacks):
    set_presence(acme.alice, AVAILABLE, capacity=2)
    contacts = [waiting_contact(acme, f"c{n}") for n in range(3)]
    routed = assignment.tenant_route(tenant_id=acme.tenant.pk)
    assert [c.pk for c in routed] == [contacts[0].pk, contacts[1].pk]
    contacts[2].refresh_from_db()
    assert contacts[2].assigned_agent_id is None
    with django_capture_on_commit_callbacks(execute=True):
        services.contact_set_status(contact=contacts[0], status="resolved", by=acme.alice)
    contacts[2].refresh_from_db()
    assert contacts[2].assigned_agent_id == acme.alice.pk
    assert assignment.agent_loads(agent_ids=[acme.alice.pk]) == {acme.alice.pk: 2}


def test_becoming_available_routes_the_queue(acme, published, django_capture_on_commit_callbacks):
    contact = waiting_contact(acme, "c1")
    with django_capture_on_commit_callbacks(execute=True):
        membership_set_presence(membership=acme.bob, presence=AVAILABLE)
    contact.refresh_from_db()
    assert contact.assigned_agent_id == acme.bob.pk
    presence = [e for e in published if isinstance(e, PresenceChanged)]
    assert [(e.membership_id, e.previous_presence, e.presence) for e in presence] == [(acme.bob.pk, OFFLINE, AVAILABLE)]


def test_agents_outside_the_queue_get_nothing(acme):
    other_queue = RoutingQueue.objects.create(tenant=acme.tenant, name="VIP")
    acme.queue.agents.remove(acme.bob)
    other_queue.agents.add(acme.bob)
    set_presence(acme.bob, AVAILABLE)
    waiting_contact(acme, "c1")
    assert assignment.tenant_route(tenant_id=acme.tenant.pk) == []


def test_routing_never_crosses_tenants(acme, globex):
    set_presence(globex.admin, AVAILABLE)
    contact = waiting_contact(acme, "c1")
    assert assignment.tenant_route(tenant_id=globex.tenant.pk) == []
    assert assignment.tenant_route(tenant_id=acme.tenant.pk) == []
    contact.refresh_from_db()
    assert contact.assigned_agent_id is None


# --- Positions -------------------------------------------------------------------


def test_waiting_live_chat_visitors_receive_their_position_as_it_changes(
    acme, published, django_capture_on_commit_callbacks
):
    first = waiting_contact(acme, "v1", channel=acme.live)
    second = waiting_contact(acme, "v2", channel=acme.live)
    waiting_contact(acme, "m1")  # messaging contacts wait too but get no position
    with django_capture_on_commit_callbacks(execute=True):
        assert assignment.queue_positions_publish(tenant_id=acme.tenant.pk) == 2
        assert assignment.queue_positions_publish(tenant_id=acme.tenant.pk) == 0  # unchanged: nothing new
        set_presence(acme.alice, AVAILABLE, capacity=1)
        assignment.tenant_route(tenant_id=acme.tenant.pk)
    positions = [(e.contact_id, e.position) for e in published if isinstance(e, events.QueuePositionChanged)]
    assert positions == [(first.pk, 1), (second.pk, 2), (second.pk, 1)]
    second_event = [e for e in published if isinstance(e, events.QueuePositionChanged)][-1]
    assert second_event.thread_id == second.thread_id
    assert second_event.queue_id == acme.queue.pk


# --- Pick, transfer, unassign ----------------------------------------------------------


def test_an_agent_picks_a_waiting_contact(acme, published, django_capture_on_commit_callbacks):
    contact = waiting_contact(acme, "c1")
    with django_capture_on_commit_callbacks(execute=True):
        picked = assignment.contact_pick(contact=contact, agent=acme.alice)
    assert picked.assigned_agent_id == acme.alice.pk
    assert picked.status == "open"
    assert _assigned(published) == [(contact.pk, acme.alice.pk, None)]


def test_picking_a_contact_someone_else_has_is_refused(acme, published):
    contact = waiting_contact(acme, "c1")
    assignment.contact_pick(contact=contact, agent=acme.alice)
    published.clear()
    with pytest.raises(AlreadyAssigned):
        assignment.contact_pick(contact=contact, agent=acme.bob)
    contact.refresh_from_db()
    assert contact.assigned_agent_id == acme.alice.pk
    assert _assigned(published) == []


def test_picking_beyond_capacity_is_refused(acme):
    set_presence(acme.alice, OFFLINE, capacity=1)
    assignment.contact_pick(contact=waiting_contact(acme, "c1"), agent=acme.alice)
    second = waiting_contact(acme, "c2")
    with pytest.raises(AgentAtCapacity):
        assignment.contact_pick(contact=second, agent=acme.alice)
    second.refresh_from_db()
    assert second.assigned_agent_id is None


def test_picking_outside_ones_queues_is_refused(acme):
    acme.queue.agents.remove(acme.bob)
    contact = waiting_contact(acme, "c1")
    with pytest.raises(NotQueueMember):
        assignment.contact_pick(contact=contact, agent=acme.bob)


def test_picking_a_resolved_contact_is_refused(acme):
    contact = waiting_contact(acme, "c1")
    services.contact_set_status(contact=contact, status="resolved")
    with pytest.raises(ContactClosed):
        assignment.contact_pick(contact=contact, agent=acme.alice)


def test_globex_cannot_pick_transfer_or_unassign_acme_contacts(acme, globex, published):
    contact = waiting_contact(acme, "c1")
    with pytest.raises(NotYourTenant):
        assignment.contact_pick(contact=contact, agent=globex.admin)
    with pytest.raises(NotYourTenant):
        assignment.contact_transfer(contact=contact, by=globex.admin, agent=acme.bob)
    with pytest.raises(NotYourTenant):
        assignment.contact_transfer(contact=contact, by=acme.alice, agent=globex.admin)
    with pytest.raises(NotYourTenant):
        assignment.contact_unassign(contact=contact, by=globex.admin)
    contact.refresh_from_db()
    assert contact.assigned_agent_id is None
    assert _assigned(published) == []


def test_transfer_to_an_agent_with_room(acme, published, django_capture_on_commit_callbacks):
    contact = waiting_contact(acme, "c1")
    assignment.contact_pick(contact=contact, agent=acme.alice)
    with django_capture_on_commit_callbacks(execute=True):
        moved = assignment.contact_transfer(contact=contact, by=acme.alice, agent=acme.bob)
    assert moved.assigned_agent_id == acme.bob.pk
    assert _assigned(published)[-1] == (contact.pk, acme.bob.pk, acme.alice.pk)


def test_transfer_to_a_full_agent_is_refused(acme):
    set_presence(acme.bob, OFFLINE, capacity=1)
    assignment.contact_pick(contact=waiting_contact(acme, "b1"), agent=acme.bob)
    contact = waiting_contact(acme, "c1")
    assignment.contact_pick(contact=contact, agent=acme.alice)
    with pytest.raises(AgentAtCapacity):
        assignment.contact_transfer(contact=contact, by=acme.alice, agent=acme.bob)
    contact.refresh_from_db()
    assert contact.assigned_agent_id == acme.alice.pk


def test_transfer_to_a_queue_puts_the_contact_back_in_line(acme):
    vip = RoutingQueue.objects.create(tenant=acme.tenant, name="VIP")
    contact = waiting_contact(acme, "c1")
    assignment.contact_pick(contact=contact, agent=acme.alice)
    moved = assignment.contact_transfer(contact=contact, by=acme.alice, queue=vip)
    assert (moved.assigned_agent_id, moved.queue_id) == (None, vip.pk)
    assert moved.waiting_since is not None


def test_transfer_needs_exactly_one_target(acme):
    contact = waiting_contact(acme, "c1")
    with pytest.raises(InvalidInput):
        assignment.contact_transfer(contact=contact, by=acme.alice)
    with pytest.raises(InvalidInput):
        assignment.contact_transfer(contact=contact, by=acme.alice, agent=acme.bob, queue=acme.queue)


def test_unassign_puts_the_contact_back_waiting(acme, published, django_capture_on_commit_callbacks):
    contact = waiting_contact(acme, "c1")
    assignment.contact_pick(contact=contact, agent=acme.alice)
    with django_capture_on_commit_callbacks(execute=True):
        back = assignment.contact_unassign(contact=contact, by=acme.alice)
    assert back.assigned_agent_id is None
    assert back.waiting_since is not None
    assert _assigned(published)[-1] == (contact.pk, None, acme.alice.pk)


# --- Presence service ------------------------------------------------------------------


def test_presence_publishes_only_on_change(acme, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        membership_set_presence(membership=acme.alice, presence=AWAY)
        membership_set_presence(membership=acme.alice, presence=AWAY)
        membership_set_presence(membership=acme.alice, max_concurrent_contacts=5)
    changes = [
        (e.presence, e.previous_presence, e.max_concurrent_contacts)
        for e in published
        if isinstance(e, PresenceChanged)
    ]
    assert changes == [(AWAY, OFFLINE, 3), (AWAY, AWAY, 5)]
    acme.alice.refresh_from_db()
    assert (acme.alice.presence, acme.alice.max_concurrent_contacts) == (AWAY, 5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"presence": "busy"},
        {"max_concurrent_contacts": -1},
        {"max_concurrent_contacts": 101},
        {"max_concurrent_contacts": True},
    ],
)
def test_presence_refuses_bad_input(acme, published, kwargs):
    with pytest.raises(InvalidInput):
        membership_set_presence(membership=acme.alice, **kwargs)
    acme.alice.refresh_from_db()
    assert (acme.alice.presence, acme.alice.max_concurrent_contacts) == (OFFLINE, 3)
    assert published == []


def test_a_long_line_in_one_queue_never_hides_a_free_agent_of_another(acme):
    """Contacts are read in batches of twenty per free seat: the oldest forty-five wait in the main
    queue for its one free seat, behind them one waits in VIP, whose agent is free."""
    vip = RoutingQueue.objects.create(tenant=acme.tenant, name="VIP")
    acme.queue.agents.remove(acme.bob)
    vip.agents.add(acme.bob)
    Membership.objects.filter(tenant=acme.tenant).update(presence=OFFLINE)
    line = [waiting_contact(acme, f"c{n}") for n in range(45)]
    vip_contact = waiting_contact(acme, "vip")
    Contact.objects.filter(pk=vip_contact.pk).update(queue=vip)
    set_presence(acme.alice, AVAILABLE, capacity=1)
    set_presence(acme.bob, AVAILABLE, capacity=1)

    routed = assignment.tenant_route(tenant_id=acme.tenant.pk)

    assert [(c.pk, c.assigned_agent_id) for c in routed] == [(line[0].pk, acme.alice.pk), (vip_contact.pk, acme.bob.pk)]
    assert _waiting_count(acme) == 44


def _waiting_count(cast) -> int:
    return Contact.objects.filter(tenant=cast.tenant, assigned_agent__isnull=True, waiting_since__isnull=False).count()
