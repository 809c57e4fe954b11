"""What an agent may see and do: the inbox reads of the console and the agent API.

An agent reads the threads of the channels their queues serve; an
administrator reads every thread of the tenant. An agent acts on a contact
assigned to them (administrators on any). A foreign tenant's id, or a thread
outside the agent's channels, reads as not found. See docs/console.md.
"""

from __future__ import annotations

import dataclasses

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from chat import search
from chat.errors import ThreadNotFound
from chat.models import Contact, Message, Thread
from engage.errors import InvalidInput, NotFound, PermissionDenied
from engage.models import Channel, Membership

VIEWS = ("mine", "queue", "all", "resolved", "closed")


def readable_channel_ids(*, agent: Membership) -> set[int]:
    """The channels whose threads the agent may read (all of the tenant for administrators)."""
    channels = Channel.objects.filter(tenant_id=agent.tenant_id)
    if not agent.is_admin:
        channels = channels.filter(queues__agents=agent)
    return set(channels.values_list("pk", flat=True))


def _readable_threads(agent: Membership) -> QuerySet[Thread]:
    threads = Thread.objects.filter(tenant_id=agent.tenant_id)
    if not agent.is_admin:
        threads = threads.filter(channel__queues__agents=agent)
    return threads


def thread_for_agent(*, agent: Membership, thread_id: int | str) -> Thread:
    """The thread if the agent may read it, else ThreadNotFound (also for other tenants)."""
    try:
        pk = int(thread_id)
    except (TypeError, ValueError):
        raise ThreadNotFound() from None
    thread = _readable_threads(agent).filter(pk=pk).select_related("channel", "customer").distinct().first()
    if thread is None:
        raise ThreadNotFound()
    return thread


def contact_for_agent(*, agent: Membership, contact_id: int | str) -> Contact:
    try:
        pk = int(contact_id)
    except (TypeError, ValueError):
        raise NotFound("Unknown contact.", code="contact_not_found") from None
    contact = (
        Contact.objects.filter(tenant_id=agent.tenant_id, pk=pk, thread__in=_readable_threads(agent))
        .select_related("thread__channel", "thread__customer", "queue", "assigned_agent__user")
        .first()
    )
    if contact is None:
        raise NotFound("Unknown contact.", code="contact_not_found")
    return contact


def contact_check_actor(*, agent: Membership, contact: Contact) -> None:
    """Only the assigned agent or an administrator acts on a contact."""
    if not agent.is_admin and contact.assigned_agent_id != agent.pk:
        raise PermissionDenied("Only the assigned agent or an administrator may do that.", code="not_assigned")


def thread_check_reply(*, agent: Membership, thread: Thread) -> None:
    """An agent replies on a thread whose open contact is theirs, or that has none open."""
    if agent.is_admin:
        return
    contact = Contact.objects.filter(thread=thread, status__in=Contact.OPEN_STATUSES).only("assigned_agent_id").first()
    if contact is not None and contact.assigned_agent_id != agent.pk:
        raise PermissionDenied("Accept the contact before replying.", code="not_assigned")


class MembershipChanged(PermissionDenied):
    """The membership read earlier (e.g. when a socket opened) is gone or has another role."""

    code = "membership_changed"


def thread_for_reply(
    *, agent: Membership, thread_id: int | str, note: bool = False, recheck_agent: bool = False
) -> Thread:
    """The thread an agent writes a reply (or a ``note``) to, in one query.

    The same verdicts as ``thread_for_agent`` then, for a reply, ``thread_check_reply``;
    cheaper for the reply path: the channel and the customer are not loaded, the
    agent's queues are an EXISTS instead of a join, and the thread's open contact
    (at most one) comes as a subquery: its assignee, 0 when unassigned, None when
    there is none. With ``recheck_agent`` (a membership read when a socket opened),
    the same query reads the membership's current role (active user and tenant);
    MembershipChanged if it is gone or differs.
    """
    try:
        pk = int(thread_id)
    except (TypeError, ValueError):
        raise ThreadNotFound() from None
    threads = Thread.objects.filter(tenant_id=agent.tenant_id, pk=pk)
    if not agent.is_admin:
        serving = Membership.queues.through.objects.filter(
            membership_id=agent.pk, routingqueue__channels=OuterRef("channel_id")
        )
        threads = threads.filter(Exists(serving))
    check = not note and not agent.is_admin
    if check:
        assignee = (
            Contact.objects.filter(thread_id=OuterRef("pk"), status__in=Contact.OPEN_STATUSES)
            .order_by()
            .values_list(Coalesce("assigned_agent_id", Value(0)))[:1]
        )
        threads = threads.annotate(open_contact_assignee=Subquery(assignee, output_field=IntegerField()))
    if recheck_agent:
        role = Membership.objects.filter(
            pk=agent.pk, tenant_id=agent.tenant_id, tenant__is_active=True, user__is_active=True
        ).values("role")[:1]
        threads = threads.annotate(agent_role=Subquery(role))
    thread = next(iter(threads[:1]), None)
    if thread is None:
        raise ThreadNotFound()
    if recheck_agent and thread.agent_role != agent.role:  # type: ignore[attr-defined]
        raise MembershipChanged("Your membership changed; reconnect.")
    if check:
        open_assignee = thread.open_contact_assignee  # type: ignore[attr-defined]
        if open_assignee is not None and open_assignee != agent.pk:
            raise PermissionDenied("Accept the contact before replying.", code="not_assigned")
    return thread


def _unread() -> Coalesce:
    unread = (
        Message.objects.filter(
            thread_id=OuterRef("thread_id"), direction=Message.Direction.INBOUND, seen_at__isnull=True
        )
        .order_by()
        .values("thread_id")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Coalesce(Subquery(unread, output_field=IntegerField()), 0)


@dataclasses.dataclass(frozen=True)
class InboxFilter:
    view: str = "mine"
    q: str = ""
    channel_id: int | None = None
    queue_id: int | None = None
    agent_id: int | None = None


def contacts_inbox(*, agent: Membership, filters: InboxFilter) -> QuerySet[Contact]:
    """The contacts of one inbox view, with ``unread_count``; a constant number of queries.

    ``mine``: open contacts assigned to the agent, oldest waiting reply first.
    ``queue``: open unassigned contacts of the agent's queues, by waiting time.
    ``all``: every open contact (administrators only).
    ``resolved``/``closed``: ended contacts of the agent's channels, newest first.
    """
    if filters.view not in VIEWS:
        raise InvalidInput(f"The view is one of {', '.join(VIEWS)}.")
    contacts = Contact.objects.filter(tenant_id=agent.tenant_id)
    if not agent.is_admin:
        contacts = contacts.filter(thread__channel__in=readable_channel_ids(agent=agent))
    if filters.view == "mine":
        contacts = contacts.filter(assigned_agent=agent, status__in=Contact.OPEN_STATUSES)
        ordering = ["thread__last_message_at", "pk"]
    elif filters.view == "queue":
        queues = Membership.queues.through.objects.filter(membership_id=agent.pk).values("routingqueue_id")
        contacts = contacts.filter(status__in=Contact.OPEN_STATUSES, assigned_agent__isnull=True)
        if not agent.is_admin:
            contacts = contacts.filter(queue__in=queues)
        ordering = ["waiting_since", "pk"]
    elif filters.view == "all":
        if not agent.is_admin:
            raise PermissionDenied("Only administrators see all open contacts.")
        contacts = contacts.filter(status__in=Contact.OPEN_STATUSES)
        ordering = ["-thread__last_message_at", "-pk"]
    else:
        contacts = contacts.filter(status=filters.view)
        ordering = ["-status_updated_at", "-pk"]
    if filters.channel_id is not None:
        contacts = contacts.filter(thread__channel_id=filters.channel_id)
    if filters.queue_id is not None:
        contacts = contacts.filter(queue_id=filters.queue_id)
    if filters.agent_id is not None:
        contacts = contacts.filter(assigned_agent_id=filters.agent_id)
    q = filters.q.strip()
    if q:
        contacts = contacts.filter(search.thread_match(q, tenant_id=agent.tenant_id, prefix="thread__"))
    return (
        contacts.select_related("thread__channel", "thread__customer", "queue", "assigned_agent__user")
        .annotate(unread_count=_unread())
        .order_by(*ordering)
    )


def inbox_counts(*, agent: Membership) -> dict[str, int]:
    """How many contacts the agent has, waits in their queues, and unread threads of theirs."""
    mine = contacts_inbox(agent=agent, filters=InboxFilter(view="mine"))
    queue = contacts_inbox(agent=agent, filters=InboxFilter(view="queue"))
    return {
        "mine": mine.count(),
        "queue": queue.count(),
        "unread": mine.filter(unread_count__gt=0).count(),  # type: ignore[misc]
    }


def past_threads(*, agent: Membership, thread: Thread, limit: int = 10) -> list[Thread]:
    """Other threads of the same customer the agent may read, newest first, with their last contact."""
    latest_status = Contact.objects.filter(thread_id=OuterRef("pk")).order_by("-created_at", "-pk").values("status")[:1]
    return list(
        _readable_threads(agent)
        .filter(customer_id=thread.customer_id)
        .exclude(pk=thread.pk)
        .select_related("channel")
        .annotate(latest_status=Subquery(latest_status))
        .distinct()
        .order_by("-created_at")[:limit]
    )
