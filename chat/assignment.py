"""Routing and assignment: who answers which contact.

A new contact waits in its channel's queue. ``tenant_route`` gives waiting
contacts, oldest first, to the *available* agent of their queue with the most
free capacity (``max_concurrent_contacts`` minus open assigned contacts); ties
go to the agent routed least recently (``Membership.last_routed_at``), which
makes a round robin. Agents may also pick a contact, transfer it to another
agent or queue, or put it back. See docs/console.md.

Correct with several processes, on PostgreSQL:

- every path that gives a contact to an agent first locks that agent's
  membership row (``SELECT … FOR NO KEY UPDATE``: the key share locks of the
  foreign key checks of the agent's messages, which may hold the contact's
  lock, stay free), then the contact row; the router
  locks all available agents of the tenant in primary-key order. Locks are
  always taken agents first, in the same order, so there is no deadlock, and
  an agent's load is counted while nobody else can add to it: no agent goes
  over capacity;
- the router locks each waiting contact it assigns with ``FOR UPDATE SKIP
  LOCKED`` and re-checks the locked row, so a contact is never given to two
  agents, and it locks no contact it does not assign. A contact skipped that
  way is one another transaction holds: a message being written to it
  (chat._sql.open_contact_lock), a close, a pick. When a free seat could have
  taken such a contact, the router passes again after a short pause
  (``ROUTE_RETRIES``, doubling from ``ROUTE_RETRY_PAUSE``), so a visitor
  writing while an agent frees up is not left waiting for the next routing
  event.

Every change goes through ``chat.services.contact_assign``; events are
published after commit. Waiting live-chat visitors receive
``QueuePositionChanged`` when their place changes.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from chat import events, services
from chat.errors import AgentAtCapacity, AlreadyAssigned, ContactClosed, NotQueueMember, NotYourTenant
from chat.models import Contact
from engage.errors import InvalidInput
from engage.events import PresenceChanged, publish
from engage.models import Channel, Membership, RoutingQueue

logger = logging.getLogger(__name__)

POSITION_CACHE_PREFIX = "parley:queue-position:"
POSITION_CACHE_SECONDS = 24 * 3600
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@dataclasses.dataclass
class _Seat:
    """An available agent during one routing pass."""

    agent: Membership
    free: int
    queue_ids: set[int]

    def sort_key(self) -> tuple[int, datetime.datetime, int]:
        return (-self.free, self.agent.last_routed_at or _EPOCH, self.agent.pk)


def agent_loads(*, agent_ids: Iterable[int]) -> dict[int, int]:
    """Open contacts assigned to each agent (0 when none)."""
    ids = list(agent_ids)
    counted = (
        Contact.objects.filter(assigned_agent_id__in=ids, status__in=Contact.OPEN_STATUSES)
        .values("assigned_agent_id")
        .annotate(total=Count("id"))
    )
    loads = dict.fromkeys(ids, 0)
    loads.update({row["assigned_agent_id"]: row["total"] for row in counted})
    return loads


def _lock_agents(agents_query) -> list[Membership]:
    return list(agents_query.select_for_update(of=("self",), no_key=True).order_by("pk"))


def _seats(tenant_id: int) -> list[_Seat]:
    agents = _lock_agents(Membership.objects.filter(tenant_id=tenant_id, presence=Membership.Presence.AVAILABLE))
    if not agents:
        return []
    loads = agent_loads(agent_ids=[agent.pk for agent in agents])
    memberships: dict[int, set[int]] = defaultdict(set)
    for agent_id, queue_id in RoutingQueue.agents.through.objects.filter(
        membership_id__in=[agent.pk for agent in agents]
    ).values_list("membership_id", "routingqueue_id"):
        memberships[agent_id].add(queue_id)
    return [
        _Seat(agent, agent.max_concurrent_contacts - loads[agent.pk], memberships[agent.pk])
        for agent in agents
        if agent.max_concurrent_contacts > loads[agent.pk] and memberships[agent.pk]
    ]


def _waiting(tenant_id: int) -> QuerySet[Contact]:
    return Contact.objects.filter(
        tenant_id=tenant_id,
        status__in=Contact.OPEN_STATUSES,
        assigned_agent__isnull=True,
        waiting_since__isnull=False,
        queue__isnull=False,
    )


ROUTE_RETRIES = 4  # passes after the first while waiting contacts are locked by others
ROUTE_RETRY_PAUSE = 0.025  # seconds before the first of them, doubled for each next one (375 ms in all)


def _route_pause(seconds: float) -> None:
    time.sleep(seconds)


def tenant_route(*, tenant_id: int) -> list[Contact]:
    """Assigns as many waiting contacts of the tenant as free capacity allows.

    Oldest waiting first; each to the available agent of its queue with the
    most free capacity, round robin on ties. A pass that skipped a contact
    another transaction had locked while an agent could have taken it is run
    again after a pause (module docstring). Returns the contacts it assigned
    (in assignment order), then publishes queue positions.
    """
    assigned, skipped = _route_pass(tenant_id)
    for attempt in range(ROUTE_RETRIES):
        if not skipped:
            break
        _route_pause(ROUTE_RETRY_PAUSE * 2**attempt)
        more, skipped = _route_pass(tenant_id)
        assigned += more
    if skipped:
        logger.warning(
            "tenant %s: waiting contacts were locked by other transactions through %d routing passes; "
            "they wait for the next routing event",
            tenant_id,
            ROUTE_RETRIES + 1,
        )
    _positions_forget(contact.pk for contact in assigned)
    queue_positions_publish(tenant_id=tenant_id)
    return assigned


def _route_pass(tenant_id: int) -> tuple[list[Contact], bool]:
    """One routing transaction: the contacts it assigned, and whether a seat left free could have
    taken a contact that another transaction held.

    Waiting contacts are read oldest first, without a lock, in batches of the queues that still
    have a free seat, so a long line in one queue never hides another queue's contact from its
    free agent. Each is locked (``SKIP LOCKED``) only when a seat takes it and checked again
    under the lock, so the pass holds no contact it does not assign. A batch that assigns nothing
    ends the pass."""
    assigned: list[Contact] = []
    skipped = False
    with transaction.atomic():
        seats = _seats(tenant_id)
        passed: set[int] = set()  # read, and held by another transaction or changed since
        while free_queue_ids := set().union(*(seat.queue_ids for seat in seats if seat.free > 0)):
            capacity = sum(seat.free for seat in seats)
            candidates = list(
                _waiting(tenant_id)
                .filter(queue_id__in=free_queue_ids)
                .exclude(pk__in=passed)
                .order_by("waiting_since", "pk")
                .values_list("pk", "queue_id")[: capacity * 20]
            )
            progress = False
            for contact_id, queue_id in candidates:
                eligible = [seat for seat in seats if seat.free > 0 and queue_id in seat.queue_ids]
                if not eligible:
                    continue  # its queue's seats filled in this batch: the next one leaves it out
                contact = Contact.objects.select_for_update(skip_locked=True).filter(pk=contact_id).first()
                if contact is None:
                    skipped = True  # a message being written to it, a close, a pick
                    passed.add(contact_id)
                    continue
                if not (contact.is_open and contact.waiting_since and contact.assigned_agent_id is None):
                    passed.add(contact_id)
                    continue
                if contact.queue_id != queue_id:
                    passed.add(contact_id)  # moved meanwhile: the change routes it again
                    continue
                seat = min(eligible, key=_Seat.sort_key)
                assigned.append(services.contact_assign(contact=contact, agent=seat.agent))
                seat.free -= 1
                seat.agent.last_routed_at = timezone.now()
                seat.agent.save(update_fields=["last_routed_at"])
                progress = True
            if not progress:
                break
    return assigned, skipped


# --- Positions ------------------------------------------------------------------


def queue_positions(*, tenant_id: int) -> dict[int, tuple[int | None, int]]:
    """``{contact_id: (queue_id, 1-based position)}`` of every waiting contact of the tenant."""
    rows = _waiting(tenant_id).order_by("waiting_since", "pk").values_list("pk", "queue_id")
    seen: dict[int, int] = defaultdict(int)
    positions: dict[int, tuple[int | None, int]] = {}
    for contact_id, queue_id in rows:
        seen[queue_id] += 1
        positions[contact_id] = (queue_id, seen[queue_id])
    return positions


def _positions_forget(contact_ids: Iterable[int]) -> None:
    keys = [f"{POSITION_CACHE_PREFIX}{contact_id}" for contact_id in contact_ids]
    if keys:
        cache.delete_many(keys)


def queue_positions_publish(*, tenant_id: int) -> int:
    """Publishes QueuePositionChanged for waiting live-chat contacts whose place changed.

    The last published place of each contact is kept in the shared cache, so
    several processes publish a change once (at worst twice, never wrongly).
    Returns how many events were published.
    """
    rows = list(
        _waiting(tenant_id)
        .filter(thread__channel__kind=Channel.Kind.LIVE_CHAT)
        .order_by("waiting_since", "pk")
        .values_list("pk", "queue_id", "thread_id", "thread__channel_id", "thread__customer_id")
    )
    if not rows:
        return 0
    positions = queue_positions(tenant_id=tenant_id)
    keys = {contact_id: f"{POSITION_CACHE_PREFIX}{contact_id}" for contact_id, *_ in rows}
    known = cache.get_many(list(keys.values()))
    changed: dict[str, int] = {}
    for contact_id, queue_id, thread_id, channel_id, customer_id in rows:
        position = positions[contact_id][1]
        if known.get(keys[contact_id]) == position:
            continue
        changed[keys[contact_id]] = position
        publish(
            events.QueuePositionChanged(
                tenant_id=tenant_id,
                thread_id=thread_id,
                channel_id=channel_id,
                customer_id=customer_id,
                contact_id=contact_id,
                queue_id=queue_id,
                position=position,
            )
        )
    if changed:
        cache.set_many(changed, POSITION_CACHE_SECONDS)
    return len(changed)


# --- Agent actions --------------------------------------------------------------


def _lock_agent(agent: Membership) -> Membership:
    return Membership.objects.select_for_update(no_key=True).get(pk=agent.pk)


def _check_room(agent: Membership) -> None:
    if agent_loads(agent_ids=[agent.pk])[agent.pk] >= agent.max_concurrent_contacts:
        raise AgentAtCapacity(f"{agent.display_name} has no free capacity.")


def _serves(agent: Membership, queue_id: int | None) -> bool:
    return queue_id is None or agent.is_admin or agent.queues.filter(pk=queue_id).exists()


def _locked_open_contact(contact: Contact) -> Contact:
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    if not locked.is_open:
        raise ContactClosed()
    return locked


def contact_pick(*, contact: Contact, agent: Membership) -> Contact:
    """The agent takes a waiting contact of one of their queues.

    Refused when another agent has it (AlreadyAssigned), when the agent does
    not serve its queue (NotQueueMember) or has no free capacity (AgentAtCapacity).
    Publishes ContactAssigned and the new queue positions.
    """
    if contact.tenant_id != agent.tenant_id:
        raise NotYourTenant("Not found.")
    with transaction.atomic():
        locked_agent = _lock_agent(agent)
        locked = _locked_open_contact(contact)
        if locked.assigned_agent_id == agent.pk:
            return locked
        if locked.assigned_agent_id is not None:
            raise AlreadyAssigned()
        if not _serves(locked_agent, locked.queue_id):
            raise NotQueueMember()
        _check_room(locked_agent)
        result = services.contact_assign(contact=locked, agent=locked_agent, by=agent)
        locked_agent.last_routed_at = timezone.now()
        locked_agent.save(update_fields=["last_routed_at"])
    _positions_forget([result.pk])
    queue_positions_publish(tenant_id=result.tenant_id)
    return result


def contact_transfer(
    *, contact: Contact, by: Membership, agent: Membership | None = None, queue: RoutingQueue | None = None
) -> Contact:
    """Moves an open contact to another agent (who must have room) or into a queue.

    A transfer to a queue puts the contact back in line there (its waiting time
    starts again) and the router takes it from there.
    """
    if (agent is None) == (queue is None):
        raise InvalidInput("Transfer to an agent or to a queue.")
    if any(party is not None and party.tenant_id != contact.tenant_id for party in (by, agent, queue)):
        raise NotYourTenant("Not found.")
    with transaction.atomic():
        if agent is not None:
            target = _lock_agent(agent)
            locked = _locked_open_contact(contact)
            if locked.assigned_agent_id == target.pk:
                return locked
            _check_room(target)
            result = services.contact_assign(contact=locked, agent=target, by=by)
        else:
            locked = _locked_open_contact(contact)
            result = services.contact_assign(contact=locked, agent=None, queue=queue, by=by)
    _positions_forget([result.pk])
    return result


def contact_unassign(*, contact: Contact, by: Membership) -> Contact:
    """Puts an open contact back in its queue, waiting for the next free agent."""
    if by.tenant_id != contact.tenant_id:
        raise NotYourTenant("Not found.")
    with transaction.atomic():
        locked = _locked_open_contact(contact)
        if locked.assigned_agent_id is None:
            return locked
        return services.contact_assign(contact=locked, agent=None, by=by)


# --- Triggers (registered by chat.subscribers) ------------------------------------


def on_contact_created(event: events.ContactCreated) -> None:
    tenant_route(tenant_id=event.tenant_id)


def on_contact_status_changed(event: events.ContactStatusChanged) -> None:
    if event.new_status in {Contact.Status.RESOLVED, Contact.Status.CLOSED}:
        _positions_forget([event.contact_id])
        tenant_route(tenant_id=event.tenant_id)


def on_contact_assigned(event: events.ContactAssigned) -> None:
    # A fresh assignment needs nothing; freed capacity or a requeued contact does.
    if event.agent_id is None or event.previous_agent_id is not None:
        tenant_route(tenant_id=event.tenant_id)


def on_presence_changed(event: PresenceChanged) -> None:
    if event.presence == Membership.Presence.AVAILABLE:
        tenant_route(tenant_id=event.tenant_id)
