"""Write use cases of tenancy data: agent presence and capacity, and the console sockets presence follows.

Each validates, writes in one transaction and publishes an event after commit
(``engage.events``). See docs/console.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from engage.errors import InvalidInput
from engage.events import PresenceChanged, publish
from engage.models import ConsoleConnection, Membership

MAX_CAPACITY = 100


def membership_set_presence(
    *, membership: Membership, presence: str | None = None, max_concurrent_contacts: int | None = None
) -> Membership:
    """Sets an agent's presence (available, away, offline) and/or capacity.

    Writes and publishes PresenceChanged (which drives routing and channel
    availability) only when something changed.
    """
    if presence is not None and presence not in Membership.Presence.values:
        raise InvalidInput(f"Presence is one of {', '.join(Membership.Presence.values)}.")
    if max_concurrent_contacts is not None and (
        isinstance(max_concurrent_contacts, bool)
        or not isinstance(max_concurrent_contacts, int)
        or not 0 <= max_concurrent_contacts <= MAX_CAPACITY
    ):
        raise InvalidInput(f"The capacity is a whole number from 0 to {MAX_CAPACITY}.")
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        previous = locked.presence
        fields: list[str] = []
        if presence is not None and presence != locked.presence:
            locked.presence = presence
            locked.presence_changed_at = timezone.now()
            fields += ["presence", "presence_changed_at"]
        if max_concurrent_contacts is not None and max_concurrent_contacts != locked.max_concurrent_contacts:
            locked.max_concurrent_contacts = max_concurrent_contacts
            fields.append("max_concurrent_contacts")
        if not fields:
            return locked
        locked.save(update_fields=fields)
        publish(
            PresenceChanged(
                tenant_id=locked.tenant_id,
                membership_id=locked.pk,
                presence=locked.presence,
                previous_presence=previous,
                max_concurrent_contacts=locked.max_concurrent_contacts,
            )
        )
    membership.presence, membership.presence_changed_at = locked.presence, locked.presence_changed_at
    membership.max_concurrent_contacts = locked.max_concurrent_contacts
    return membership


# -- presence follows the agent console ------------------------------------------------------
#
# Each open console socket has a ``ConsoleConnection`` row, touched by its process every
# ``PARLEY_CONSOLE_HEARTBEAT`` seconds and marked closed when the socket closes. An agent with
# no open socket left for ``PARLEY_CONSOLE_OFFLINE_AFTER`` seconds goes offline: the process
# that served the last socket checks when that time is up (``chat.console.attendance``), and
# the sweep catches what a stopped process could not check (docs/console.md).


def _stale_before(now: datetime.datetime) -> datetime.datetime:
    """Rows touched before this belong to a process that stopped: three heartbeats were missed."""
    return now - datetime.timedelta(seconds=3 * settings.PARLEY_CONSOLE_HEARTBEAT)


def console_connection_opened(*, membership: Membership, key: str) -> ConsoleConnection:
    """Records an open console socket of ``membership`` (``key``: its channel-layer name)."""
    now = timezone.now()
    connection = ConsoleConnection.objects.create(
        tenant_id=membership.tenant_id, membership=membership, key=key, opened_at=now, seen_at=now
    )
    return connection


def console_connection_closed(*, key: str) -> int | None:
    """Marks the socket closed; its agent's presence is checked once the grace is up (the
    caller's timer, or the sweep). Returns the membership's id (None: no such socket)."""
    now = timezone.now()
    connection = ConsoleConnection.objects.filter(key=key).only("membership_id").first()
    if connection is None:
        return None
    ConsoleConnection.objects.filter(key=key, closed_at=None).update(closed_at=now, seen_at=now)
    return connection.membership_id


def console_connections_seen(*, keys: Iterable[str]) -> int:
    """Touches the rows of a process's open sockets (its heartbeat); returns how many."""
    keys = list(keys)
    if not keys:
        return 0
    return ConsoleConnection.objects.filter(key__in=keys, closed_at=None).update(seen_at=timezone.now())


def membership_offline_if_unattended(*, membership_id: int, since: datetime.datetime) -> bool:
    """Sets the agent offline when no console socket of theirs is open, unless their presence
    changed after ``since`` (when their last socket closed or stopped being touched): a
    presence set since then, from the REST API say, is theirs to keep. Returns whether it did.

    Runs under the membership's row lock, as every presence change does; a socket opened
    while this runs finds the agent offline in the ``PresenceChanged`` push that follows.
    """
    live = ConsoleConnection.objects.filter(
        membership_id=membership_id, closed_at=None, seen_at__gte=_stale_before(timezone.now())
    )
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(pk=membership_id).first()
        if membership is None or membership.presence == Membership.Presence.OFFLINE:
            return False
        if membership.presence_changed_at > since or live.exists():
            return False
        membership_set_presence(membership=membership, presence=Membership.Presence.OFFLINE)
    return True


def console_connections_sweep() -> list[int]:
    """Settles the sockets that closed more than ``PARLEY_CONSOLE_OFFLINE_AFTER`` seconds ago
    and those of stopped processes: their agents with no open socket left go offline, and
    the rows go. Every process's heartbeat and Celery beat run it; safe to run concurrently.
    Returns the memberships set offline."""
    now = timezone.now()
    done = ConsoleConnection.objects.filter(
        Q(closed_at__lt=now - datetime.timedelta(seconds=settings.PARLEY_CONSOLE_OFFLINE_AFTER))
        | Q(closed_at=None, seen_at__lt=_stale_before(now))
    )
    last_seen = dict(done.values("membership_id").annotate(last=Max("seen_at")).values_list("membership_id", "last"))
    offline = [
        membership_id
        for membership_id, since in sorted(last_seen.items())
        if membership_offline_if_unattended(membership_id=membership_id, since=since)
    ]
    done.filter(membership_id__in=list(last_seen)).delete()
    return offline
