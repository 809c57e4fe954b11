"""Write use cases of tenancy data: agent presence and capacity, and the console sockets presence follows.

Each validates, writes in one transaction and publishes an event after commit
(``engage.events``). See docs/console.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from django.conf import settings
from django.db import transaction
from django.db.models import Q
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
        locked = Membership.objects.select_for_update(no_key=True).get(pk=membership.pk)
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
    return now - _heartbeat() * 3


def _heartbeat() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.PARLEY_CONSOLE_HEARTBEAT)


def _grace() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.PARLEY_CONSOLE_OFFLINE_AFTER)


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


def console_connections_seen(*, sockets: Mapping[str, tuple[int, int]]) -> int:
    """Touches the rows of a process's open sockets (its heartbeat): ``sockets`` maps each key to
    its membership's and tenant's ids. A row the sweep removed meanwhile (the process, or the
    database, was away for three heartbeats) is made again, so that the socket keeps counting.
    Returns how many rows were touched or made."""
    if not sockets:
        return 0
    now = timezone.now()
    touched = ConsoleConnection.objects.filter(key__in=list(sockets), closed_at=None).update(seen_at=now)
    if touched == len(sockets):
        return touched
    known = set(ConsoleConnection.objects.filter(key__in=list(sockets)).values_list("key", flat=True))
    members = set(Membership.objects.filter(pk__in=[ids[0] for ids in sockets.values()]).values_list("pk", flat=True))
    made = ConsoleConnection.objects.bulk_create(
        [
            ConsoleConnection(tenant_id=tenant_id, membership_id=membership_id, key=key, opened_at=now, seen_at=now)
            for key, (membership_id, tenant_id) in sockets.items()
            if key not in known and membership_id in members  # a membership deleted meanwhile: its console closes
        ],
        ignore_conflicts=True,
    )
    return touched + len(made)


def membership_offline_if_unattended(*, membership_id: int, since: datetime.datetime) -> bool:
    """Sets the agent offline when no console socket of theirs counts any more, unless their
    presence changed after ``since`` (when their last socket closed or its process stopped): a
    presence set since then, from the REST API say, is theirs to keep. Returns whether it did.

    A socket counts while it is open and touched within three heartbeats, and for the grace
    after it closed (its own check is still to come). Runs under the membership's row lock, as
    every presence change does; a socket opened while this runs finds the agent offline in the
    ``PresenceChanged`` push that follows.
    """
    now = timezone.now()
    attended = ConsoleConnection.objects.filter(membership_id=membership_id).filter(
        Q(closed_at=None, seen_at__gte=_stale_before(now)) | Q(closed_at__gt=now - _grace())
    )
    with transaction.atomic():
        membership = Membership.objects.select_for_update(no_key=True).filter(pk=membership_id).first()
        if membership is None or membership.presence == Membership.Presence.OFFLINE:
            return False
        if membership.presence_changed_at > since or attended.exists():
            return False
        membership_set_presence(membership=membership, presence=Membership.Presence.OFFLINE)
    return True


def console_connections_sweep() -> list[int]:
    """Settles the sockets that closed more than ``PARLEY_CONSOLE_OFFLINE_AFTER`` seconds ago
    and those of stopped processes (untouched for three heartbeats): their agents with no
    socket that counts go offline, and the rows go. Every process's heartbeat and Celery beat
    run it; safe to run concurrently. Returns the memberships set offline.

    A stopped process's socket was last touched at ``seen_at`` and would have been touched
    again a heartbeat later: the agent's own presence changes up to then were made while it
    was open, and do not keep them."""
    now = timezone.now()
    done = ConsoleConnection.objects.filter(
        Q(closed_at__lt=now - _grace()) | Q(closed_at=None, seen_at__lt=_stale_before(now))
    )
    since: dict[int, datetime.datetime] = {}
    for membership_id, closed_at, seen_at in done.values_list("membership_id", "closed_at", "seen_at"):
        ended = closed_at if closed_at is not None else seen_at + _heartbeat()
        since[membership_id] = max(ended, since.get(membership_id, ended))
    offline = [
        membership_id
        for membership_id, ended in sorted(since.items())
        if membership_offline_if_unattended(membership_id=membership_id, since=ended)
    ]
    done.filter(membership_id__in=list(since)).delete()
    return offline


def console_heartbeat(*, sockets: Mapping[str, tuple[int, int]]) -> list[int]:
    """A process's heartbeat: its open sockets touched (``console_connections_seen``), then the
    sweep, in this order, so that the process never sweeps its own sockets. Returns the sweep's."""
    console_connections_seen(sockets=sockets)
    return console_connections_sweep()
