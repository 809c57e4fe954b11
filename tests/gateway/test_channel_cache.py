"""The upgrade's per-process channel cache follows changes made in any process (chat.gateway.sessions)."""

from __future__ import annotations

import asyncio
import math
import uuid

import pytest

from chat.gateway import sessions
from engage.layers import RedisFanoutChannelLayer


@pytest.fixture(autouse=True)
def _forget():  # type: ignore[no-untyped-def]
    """Copies cached here (with no age limit) leave with the test."""
    yield
    sessions.channel_cache_clear()


@pytest.fixture
def nothing_announced():  # type: ignore[no-untyped-def]
    """The test runs in one transaction with its fixtures, whose saves left an announcement
    pending: as if this were a transaction of its own, that one is dropped."""
    from django.db import connection

    connection.run_on_commit = [
        entry for entry in connection.run_on_commit if entry[1] is not sessions.channels_changed_announce
    ]


def _cache(cast) -> None:  # type: ignore[no-untyped-def]
    """A copy of the cast's messaging channel as a process holds it after an upgrade."""
    sessions._channels[(cast.brand.brand_id, cast.messaging.channel_id)] = (math.inf, cast.messaging)


def _cached(cast):  # type: ignore[no-untyped-def]
    return sessions.channel_cached(brand_id=cast.brand.brand_id, channel_id=cast.messaging.channel_id)


@pytest.fixture
async def two_processes(settings):
    """Two layers with one prefix of their own: two server processes sharing Redis."""
    prefix = f"test{uuid.uuid4().hex[:12]}"
    here = RedisFanoutChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix)
    there = RedisFanoutChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix)
    yield here, there
    await here.flush()
    await there.flush()


@pytest.mark.parametrize("model", ["messaging", "brand", "tenant"])
def test_a_save_forgets_this_process_copy_at_once_and_announces_after_commit(
    acme, model, nothing_announced, django_capture_on_commit_callbacks
):
    _cache(acme)
    with django_capture_on_commit_callbacks() as callbacks:
        getattr(acme, model).save()
        assert _cached(acme) is None
    assert callbacks == [sessions.channels_changed_announce]


def test_one_announcement_per_transaction(acme, nothing_announced, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        acme.messaging.save()
        acme.brand.save()
        acme.tenant.save()
    assert callbacks.count(sessions.channels_changed_announce) == 1


def test_a_delete_announces_too(acme, nothing_announced, django_capture_on_commit_callbacks):
    _cache(acme)
    with django_capture_on_commit_callbacks() as callbacks:
        acme.messaging.delete()
    assert _cached(acme) is None
    assert callbacks.count(sessions.channels_changed_announce) == 1


@pytest.mark.redis
async def test_another_process_forgets_its_copy_when_a_change_is_announced(acme, two_processes):
    here, there = two_processes
    listening = asyncio.Event()
    listener = asyncio.create_task(sessions.channels_changed_listen(there, listening=listening))
    try:
        await asyncio.wait_for(listening.wait(), 5)
        _cache(acme)  # "there" read the channel after it joined the group
        await sessions._announce(here)
        for _ in range(500):
            if _cached(acme) is None:
                break
            await asyncio.sleep(0.01)
        assert _cached(acme) is None
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


@pytest.mark.redis
async def test_the_listener_forgets_what_was_cached_before_it_listened(acme, two_processes):
    _, there = two_processes
    _cache(acme)
    listening = asyncio.Event()
    listener = asyncio.create_task(sessions.channels_changed_listen(there, listening=listening))
    try:
        await asyncio.wait_for(listening.wait(), 5)
        assert _cached(acme) is None
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def test_the_asgi_lifespan_runs_the_listener_from_startup_to_shutdown(acme):
    """On the configured layer: an announcement empties the cache while the server runs."""
    from channels.layers import get_channel_layer

    from engage.asgi import lifespan
    from engage.lib import loops

    inbox: asyncio.Queue[dict] = asyncio.Queue()
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    running = loops.running()
    _cache(acme)
    server = asyncio.create_task(lifespan({"type": "lifespan"}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    for _ in range(500):  # the listener has joined its group once it forgot what was cached before
        if _cached(acme) is None:
            break
        await asyncio.sleep(0.01)
    assert _cached(acme) is None
    _cache(acme)
    await sessions._announce(get_channel_layer())
    for _ in range(500):
        if _cached(acme) is None:
            break
        await asyncio.sleep(0.01)
    assert _cached(acme) is None  # what the listener received, not its join
    assert sent == [{"type": "lifespan.startup.complete"}]
    assert loops.running() == running + 1
    await inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(server, 10)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert loops.running() == running
    _cache(acme)
    await sessions._announce(get_channel_layer())
    await asyncio.sleep(0.1)
    assert _cached(acme) is acme.messaging  # nobody listens after shutdown
