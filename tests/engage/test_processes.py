"""engage.lib.processes: spawned Django processes with the parent's settings, dropped when they fail."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from engage.lib.processes import ProcessPool


def setting_of(name: str) -> Any:
    return getattr(django_settings, name)


def database_name() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        return str(cursor.fetchone()[0])


@pytest.fixture
def pool(settings):  # type: ignore[no-untyped-def]
    settings.TEST_PROCESSES = 1
    pool = ProcessPool("TEST_PROCESSES")
    yield pool
    pool.shutdown()


@pytest.mark.django_db(transaction=True)
async def test_a_child_works_with_the_settings_the_parent_has_now(pool, settings):  # type: ignore[no-untyped-def]
    settings.PARLEY_GATEWAY_PAGE_SIZE = 7
    assert await pool.run(setting_of, "PARLEY_GATEWAY_PAGE_SIZE") == 7
    assert await pool.run(database_name) == settings.DATABASES["default"]["NAME"]
    first = await pool.run(os.getpid)
    assert first != os.getpid()
    # A shared setting changed: the children that read the old value are stopped, new ones see the new.
    settings.PARLEY_GATEWAY_PAGE_SIZE = 9
    assert pool.started is False
    assert await pool.run(setting_of, "PARLEY_GATEWAY_PAGE_SIZE") == 9
    assert await pool.run(os.getpid) != first


async def test_a_call_raising_keeps_its_child(pool):  # type: ignore[no-untyped-def]
    child = await pool.run(os.getpid)
    with pytest.raises(ValueError, match="invalid literal"):
        await pool.run(int, "not a number")
    assert await pool.run(os.getpid) == child


async def test_a_call_past_the_timeout_stops_its_child_and_the_next_call_gets_a_new_one(pool):  # type: ignore[no-untyped-def]
    child = await pool.run(os.getpid)  # started: what follows is the call's own time
    pool.timeout = 1.0
    with pytest.raises(TimeoutError):
        await pool.run(time.sleep, 60)
    assert pool.started is False
    for _ in range(100):  # terminated, not waited for
        stat = Path(f"/proc/{child}/stat")
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the child past its timeout still runs")
    assert await pool.run(os.getpid) not in (child, os.getpid())


async def test_size_zero_is_off(settings):  # type: ignore[no-untyped-def]
    settings.TEST_PROCESSES = 0
    pool = ProcessPool("TEST_PROCESSES")
    assert pool.enabled is False
    await pool.warm()
    assert pool.started is False


async def test_the_asgi_lifespan_starts_and_stops_the_render_processes(settings):  # type: ignore[no-untyped-def]
    from chat.gateway.handlers.large import RENDERERS
    from engage.asgi import lifespan

    settings.PARLEY_GATEWAY_RENDER_PROCESSES = 1
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    server = asyncio.create_task(lifespan({"type": "lifespan"}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    for _ in range(200):
        if RENDERERS.started:
            break
        await asyncio.sleep(0.01)
    assert RENDERERS.started is True
    assert await RENDERERS.run(os.getpid) != os.getpid()
    await inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(server, 10)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert RENDERERS.started is False
