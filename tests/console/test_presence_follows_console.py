"""Presence follows the agent console: an agent whose console sockets all closed goes offline.

The services (``engage.services``, console connections) decide; the console socket records
its opening and closing (``chat.console.attendance``), and checks its agent once the grace is up.
"""

from __future__ import annotations

import asyncio
import datetime

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat.tasks import console_sweep
from engage import services
from engage.events import PresenceChanged
from engage.models import ConsoleConnection, Membership
from tests.console.helpers import set_presence, welcomed_console

AVAILABLE, AWAY, OFFLINE = Membership.Presence.AVAILABLE, Membership.Presence.AWAY, Membership.Presence.OFFLINE


def _set(member: Membership, presence: str) -> None:
    """The agent's presence, set ten minutes ago (before any socket of the test closed)."""
    set_presence(member, presence)
    Membership.objects.filter(pk=member.pk).update(presence_changed_at=timezone.now() - datetime.timedelta(seconds=600))


def _presence(member: Membership) -> str:
    return Membership.objects.values_list("presence", flat=True).get(pk=member.pk)


def _age(key: str, **seconds: float) -> None:
    """Moves a row's times back, as if it was closed or last touched that long ago."""
    row = ConsoleConnection.objects.get(key=key)
    for field, ago in seconds.items():
        setattr(row, field, timezone.now() - datetime.timedelta(seconds=ago))
    row.save()


def _open_then_close(member: Membership, key: str = "console.a", ago: float = 61) -> datetime.datetime:
    """A console socket of ``member`` opened and closed ``ago`` seconds ago (by default past the
    grace of 60 s, as when its check runs); returns when it closed."""
    services.console_connection_opened(membership=member, key=key)
    assert services.console_connection_closed(key=key) == member.pk
    _age(key, closed_at=ago, seen_at=ago)
    return ConsoleConnection.objects.get(key=key).closed_at


# -- the services ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_agent_whose_last_console_closed_goes_offline(acme, published, django_capture_on_commit_callbacks):
    _set(acme.alice, AVAILABLE)
    since = _open_then_close(acme.alice)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.membership_offline_if_unattended(membership_id=acme.alice.pk, since=since) is True

    assert _presence(acme.alice) == OFFLINE
    changes = [event for event in published if isinstance(event, PresenceChanged)]
    assert [(e.membership_id, e.presence, e.previous_presence) for e in changes] == [
        (acme.alice.pk, OFFLINE, AVAILABLE)
    ]


@pytest.mark.django_db
def test_an_agent_away_also_goes_offline(acme):
    _set(acme.alice, AWAY)
    since = _open_then_close(acme.alice)

    assert services.membership_offline_if_unattended(membership_id=acme.alice.pk, since=since) is True
    assert _presence(acme.alice) == OFFLINE


@pytest.mark.django_db
def test_another_open_console_keeps_the_agent(acme, published, django_capture_on_commit_callbacks):
    _set(acme.alice, AVAILABLE)
    services.console_connection_opened(membership=acme.alice, key="console.tab-2")
    since = _open_then_close(acme.alice, "console.tab-1")

    with django_capture_on_commit_callbacks(execute=True):
        assert services.membership_offline_if_unattended(membership_id=acme.alice.pk, since=since) is False
    assert _presence(acme.alice) == AVAILABLE
    assert not [event for event in published if isinstance(event, PresenceChanged)]


@pytest.mark.django_db
def test_a_presence_set_after_the_console_closed_is_kept(acme):
    _set(acme.alice, AWAY)
    since = _open_then_close(acme.alice)
    services.membership_set_presence(membership=acme.alice, presence=AVAILABLE)  # the REST API, say

    assert services.membership_offline_if_unattended(membership_id=acme.alice.pk, since=since) is False
    assert _presence(acme.alice) == AVAILABLE


@pytest.mark.django_db
def test_an_agent_already_offline_is_left_alone(acme, published, django_capture_on_commit_callbacks):
    since = _open_then_close(acme.alice)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.membership_offline_if_unattended(membership_id=acme.alice.pk, since=since) is False
    assert not [event for event in published if isinstance(event, PresenceChanged)]


@pytest.mark.django_db
def test_closing_an_unknown_socket_changes_nothing(acme):
    services.console_connection_opened(membership=acme.alice, key="console.a")
    assert services.console_connection_closed(key="console.unknown") is None
    assert ConsoleConnection.objects.get(key="console.a").closed_at is None


@pytest.mark.django_db
def test_the_heartbeat_touches_open_sockets_only(acme):
    services.console_connection_opened(membership=acme.alice, key="console.open")
    services.console_connection_opened(membership=acme.bob, key="console.closed")
    services.console_connection_closed(key="console.closed")
    _age("console.open", seen_at=50)
    _age("console.closed", seen_at=50)

    ids = (acme.alice.pk, acme.tenant.pk)
    assert services.console_connections_seen(sockets={"console.open": ids}) == 1
    rows = dict(ConsoleConnection.objects.values_list("key", "seen_at"))
    assert timezone.now() - rows["console.open"] < datetime.timedelta(seconds=5)
    assert timezone.now() - rows["console.closed"] > datetime.timedelta(seconds=45)
    assert services.console_connections_seen(sockets={}) == 0


@pytest.mark.django_db
def test_the_heartbeat_makes_again_the_row_of_an_open_socket_the_sweep_removed(acme):
    """The process (or the database) was away for three heartbeats: its sockets' rows were swept
    as a stopped process's, yet the sockets are open. They count again from the next heartbeat."""
    services.console_connection_opened(membership=acme.alice, key="console.back")
    ConsoleConnection.objects.all().delete()
    gone_member = (acme.bob.pk + 1000, acme.tenant.pk)  # a membership deleted meanwhile: skipped

    sockets = {"console.back": (acme.alice.pk, acme.tenant.pk), "console.orphan": gone_member}
    assert services.console_connections_seen(sockets=sockets) == 1

    row = ConsoleConnection.objects.get()
    assert (row.key, row.membership_id, row.tenant_id, row.closed_at) == (
        "console.back",
        acme.alice.pk,
        acme.tenant.pk,
        None,
    )


@pytest.mark.django_db
def test_the_sweep_settles_sockets_closed_past_the_grace(acme, settings):
    settings.PARLEY_CONSOLE_OFFLINE_AFTER = 60
    _set(acme.alice, AVAILABLE)
    _set(acme.bob, AVAILABLE)
    for key, member in (("console.alice", acme.alice), ("console.bob", acme.bob)):
        services.console_connection_opened(membership=member, key=key)
        services.console_connection_closed(key=key)
    _age("console.alice", closed_at=61, seen_at=61)  # past the grace
    _age("console.bob", closed_at=30, seen_at=30)  # still within it

    assert console_sweep() == [acme.alice.pk]  # Celery beat's task, run here as a function

    assert (_presence(acme.alice), _presence(acme.bob)) == (OFFLINE, AVAILABLE)
    assert list(ConsoleConnection.objects.values_list("key", flat=True)) == ["console.bob"]


@pytest.mark.django_db
def test_the_sweep_settles_the_sockets_of_a_stopped_process(acme, settings):
    """A process that stopped neither closed its sockets' rows nor checked their agents: its
    rows, untouched for three heartbeats, are swept; an agent with a socket in another
    process stays."""
    settings.PARLEY_CONSOLE_HEARTBEAT = 30
    _set(acme.alice, AVAILABLE)
    _set(acme.bob, AVAILABLE)
    services.console_connection_opened(membership=acme.alice, key="console.dead!alice")
    services.console_connection_opened(membership=acme.bob, key="console.dead!bob")
    services.console_connection_opened(membership=acme.bob, key="console.live!bob")
    _age("console.dead!alice", seen_at=91)
    _age("console.dead!bob", seen_at=91)
    _age("console.live!bob", seen_at=89)  # two heartbeats missed: not yet stale

    assert services.console_connections_sweep() == [acme.alice.pk]

    assert (_presence(acme.alice), _presence(acme.bob)) == (OFFLINE, AVAILABLE)
    assert list(ConsoleConnection.objects.values_list("key", flat=True)) == ["console.live!bob"]


@pytest.mark.django_db
def test_a_socket_closed_within_the_grace_still_counts_for_the_sweep(acme, settings):
    """Two tabs: the first closed long ago, the second a moment ago. The agent keeps the
    second's grace, and goes offline only when it is up."""
    settings.PARLEY_CONSOLE_OFFLINE_AFTER = 60
    _set(acme.alice, AVAILABLE)
    _open_then_close(acme.alice, "console.tab-1")
    _open_then_close(acme.alice, "console.tab-2")
    _age("console.tab-1", closed_at=300, seen_at=300)
    _age("console.tab-2", closed_at=10, seen_at=10)

    assert services.console_connections_sweep() == []
    assert _presence(acme.alice) == AVAILABLE
    assert list(ConsoleConnection.objects.values_list("key", flat=True)) == ["console.tab-2"]

    _age("console.tab-2", closed_at=61, seen_at=61)
    assert services.console_connections_sweep() == [acme.alice.pk]
    assert _presence(acme.alice) == OFFLINE


@pytest.mark.django_db
def test_a_presence_set_while_a_stopped_process_still_served_the_socket_does_not_keep_the_agent(acme, settings):
    """The process stopped some time within the heartbeat after it last touched the row: a
    presence the agent set in that time was set from that console, not after it closed."""
    settings.PARLEY_CONSOLE_HEARTBEAT = 30
    services.console_connection_opened(membership=acme.alice, key="console.dead")
    _age("console.dead", seen_at=100)
    Membership.objects.filter(pk=acme.alice.pk).update(
        presence=AVAILABLE, presence_changed_at=timezone.now() - datetime.timedelta(seconds=90)
    )

    assert services.console_connections_sweep() == [acme.alice.pk]
    assert _presence(acme.alice) == OFFLINE


@pytest.mark.django_db
def test_an_agent_without_a_console_is_never_swept(acme):
    """Presence set over the REST API alone (an integration, say) belongs to whoever set it."""
    _set(acme.alice, AVAILABLE)
    assert services.console_connections_sweep() == []
    assert _presence(acme.alice) == AVAILABLE


@pytest.mark.django_db
def test_globex_sockets_never_change_acme_presence(acme, globex, settings):
    settings.PARLEY_CONSOLE_OFFLINE_AFTER = 60
    _set(acme.alice, AVAILABLE)
    _set(globex.admin, AVAILABLE)
    services.console_connection_opened(membership=acme.alice, key="console.acme")
    services.console_connection_opened(membership=globex.admin, key="console.globex")
    services.console_connection_closed(key="console.globex")
    _age("console.globex", closed_at=61, seen_at=61)

    assert services.console_connections_sweep() == [globex.admin.pk]
    assert services.membership_offline_if_unattended(membership_id=acme.alice.pk, since=timezone.now()) is False

    assert (_presence(acme.alice), _presence(globex.admin)) == (AVAILABLE, OFFLINE)
    row = ConsoleConnection.objects.get()
    assert (row.key, row.tenant_id, row.membership_id) == ("console.acme", acme.tenant.pk, acme.alice.pk)


# -- the console socket ---------------------------------------------------------------------


async def _eventually(predicate, timeout: float = 10.0) -> None:
    """Waits until ``predicate()`` (run in a worker: it reads the database) holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await database_sync_to_async(predicate)():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("own_cache")
async def test_closing_the_console_sets_the_agent_offline_after_the_grace(acme, settings):
    settings.PARLEY_CONSOLE_OFFLINE_AFTER = 0.3
    await database_sync_to_async(set_presence)(acme.alice, AVAILABLE)
    console = await welcomed_console(acme.alice.user)
    row = await database_sync_to_async(ConsoleConnection.objects.get)()
    assert (row.membership_id, row.tenant_id, row.closed_at) == (acme.alice.pk, acme.tenant.pk, None)

    await console.disconnect()

    await _eventually(lambda: _presence(acme.alice) == OFFLINE)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("own_cache")
async def test_a_console_opened_again_within_the_grace_keeps_the_agent(acme, settings):
    """A reload closes the socket and opens another one: the agent stays available, and goes
    offline only once the last one closed."""
    settings.PARLEY_CONSOLE_OFFLINE_AFTER = 3.0  # room for the second socket's sign-in and handshake
    await database_sync_to_async(set_presence)(acme.alice, AVAILABLE)
    first = await welcomed_console(acme.alice.user)
    await first.disconnect()
    second = await welcomed_console(acme.alice.user)

    closed = await database_sync_to_async(lambda: ConsoleConnection.objects.exclude(closed_at=None).count())()
    assert closed == 1
    await asyncio.sleep(3.5)  # the first socket's check has run by now
    assert await database_sync_to_async(_presence)(acme.alice) == AVAILABLE

    await second.disconnect()
    await _eventually(lambda: _presence(acme.alice) == OFFLINE)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("own_cache")
async def test_an_open_console_is_touched_every_heartbeat(acme, settings):
    settings.PARLEY_CONSOLE_HEARTBEAT = 0.2
    console = await welcomed_console(acme.alice.user)
    opened = await database_sync_to_async(ConsoleConnection.objects.get)()

    await _eventually(lambda: ConsoleConnection.objects.get().seen_at > opened.seen_at)

    await console.disconnect()
