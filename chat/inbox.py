"""What an agent may see and do: the inbox reads of the console and the agent API.

An agent reads the threads of the channels their queues serve; an
administrator reads every thread of the tenant. An agent acts on a contact
assigned to them (administrators on any). A foreign tenant's id, or a thread
outside the agent's channels, reads as not found. See docs/console.md.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import psycopg
from django.db import connections
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from chat import search
from chat._sql import Columns, agent_serves_channel_sql, membership_role_sql
from chat.errors import ThreadNotFound
from chat.models import Contact, Message, Thread
from engage.errors import InvalidInput, NotFound, PermissionDenied
from engage.lib import aiodb
from engage.models import Channel, Membership

VIEWS = ("mine", "queue", "all", "resolved", "closed")
_THREAD = Columns(Thread, "t")


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


@functools.cache
def _reply_sql(*, queues: bool, check: bool, recheck: bool) -> str:
    """The statement of ``thread_for_reply``: written once per shape (Django would compile a
    queryset to SQL on every call, which costs more CPU than the query). Only model
    metadata goes into the text; every value is a parameter, in order of appearance."""
    select = [_THREAD.sql]
    if check:  # the open contact's assignee: 0 when unassigned, NULL when there is no open contact
        select.append(
            f'(SELECT COALESCE(c."assigned_agent_id", 0) FROM "{Contact._meta.db_table}" c'  # noqa: S608
            f' WHERE c."thread_id" = t."id" AND c."status" IN ({", ".join(["%s"] * len(Contact.OPEN_STATUSES))})'
            " LIMIT 1)"
        )
    if recheck:  # the membership's current role, if its user and tenant are active
        select.append(f"({membership_role_sql('%s', '%s', '%s')})")
    sql = f'SELECT {", ".join(select)} FROM "{Thread._meta.db_table}" t WHERE t."tenant_id" = %s AND t."id" = %s'  # noqa: S608
    if queues:  # a queue of the agent serves the thread's channel
        sql += " AND " + agent_serves_channel_sql("%s", 't."channel_id"')
    return sql


def thread_for_reply(
    *, agent: Membership, thread_id: int | str, note: bool = False, recheck_agent: bool = False
) -> Thread:
    """The thread an agent writes a reply (or a ``note``) to, in one statement.

    The same verdicts as ``thread_for_agent`` then, for a reply, ``thread_check_reply``
    (tests/api/test_replies.py compares them), cheaper for the hottest write: the
    statement is written once (no queryset to compile), the channel and the customer
    are not loaded, the agent's queues are an EXISTS, and the thread's open contact
    (at most one) comes as a subquery. With ``recheck_agent`` (a membership read when
    a socket opened), the same statement reads the membership's current role (active
    user and tenant); MembershipChanged if it is gone or differs.
    """
    sql, params = _reply_query(agent, thread_id, note=note, recheck_agent=recheck_agent)
    connection = connections[Thread.objects.db]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return _reply_verdict(connection, agent, row, note=note, recheck_agent=recheck_agent)


async def athread_for_reply(
    *, agent: Membership, thread_id: int | str, note: bool = False, recheck_agent: bool = False
) -> Thread | None:
    """``thread_for_reply`` from the event loop: the same statement and verdicts, on the loop's
    own connection (``engage.lib.aiodb``, PostgreSQL only: check ``aiodb.available()``).
    None when the connection failed (the pool drops it): ask ``thread_for_reply`` in a worker."""
    sql, params = _reply_query(agent, thread_id, note=note, recheck_agent=recheck_agent)
    try:
        row = await aiodb.fetchone(sql, params)
    except psycopg.OperationalError:
        return None
    return _reply_verdict(aiodb.wrapper(), agent, row, note=note, recheck_agent=recheck_agent)


def reply_thread_pk(thread_id: int | str) -> int:
    """The primary key a reply names; ThreadNotFound for what cannot be one."""
    try:
        pk = int(thread_id)
    except (TypeError, ValueError):
        raise ThreadNotFound() from None
    if not 0 < pk < 2**63:
        raise ThreadNotFound()
    return pk


def _reply_query(agent: Membership, thread_id: int | str, *, note: bool, recheck_agent: bool) -> tuple[str, list[Any]]:
    pk = reply_thread_pk(thread_id)
    queues, check = not agent.is_admin, not note and not agent.is_admin
    params: list[Any] = []
    if check:
        params.extend(Contact.OPEN_STATUSES)
    if recheck_agent:
        params.extend([agent.pk, agent.tenant_id, True, True])
    params.extend([agent.tenant_id, pk])
    if queues:
        params.append(agent.pk)
    return _reply_sql(queues=queues, check=check, recheck=recheck_agent), params


def _reply_verdict(connection: Any, agent: Membership, row: Any, *, note: bool, recheck_agent: bool) -> Thread:
    if row is None:
        raise ThreadNotFound()
    check = not note and not agent.is_admin
    thread = _THREAD.load(connection, row)
    assert thread is not None
    extra = list(row[len(_THREAD) :])
    open_assignee = extra.pop(0) if check else None
    if recheck_agent and extra.pop(0) != agent.role:
        raise MembershipChanged("Your membership changed; reconnect.")
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
