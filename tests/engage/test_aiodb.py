"""The event loop's PostgreSQL connections (engage.lib.aiodb): bounded, handed over in order, never reused doubtful."""

from __future__ import annotations

import asyncio

import pytest

from engage.lib import aiodb

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


async def test_connections_are_in_autocommit_with_djangos_time_zone(settings):  # type: ignore[no-untyped-def]
    async with aiodb.pool().connection() as connection:
        cursor = await connection.execute("SELECT current_setting('TimeZone'), now()")
        zone, now = await cursor.fetchone()
        assert connection.autocommit is True
    assert zone == "UTC"
    assert now.utcoffset().total_seconds() == 0


async def test_callers_beyond_the_size_wait_their_turn_in_order():  # type: ignore[no-untyped-def]
    pool = aiodb.LoopPool("default", size=1)
    order: list[str] = []
    first = await pool._acquire()

    async def take(name: str) -> None:
        async with pool.connection() as connection:
            order.append(name)
            assert connection is first

    waiting = [asyncio.create_task(take(name)) for name in ("b", "c")]
    await asyncio.sleep(0.05)
    assert order == []  # both wait: the one connection is out
    pool._release(first)
    await asyncio.gather(*waiting)
    assert order == ["b", "c"]
    assert pool._count == 1
    pool.close_now()
    assert (pool._count, first.closed) == (0, True)


async def test_a_connection_left_in_a_transaction_is_closed_not_reused():  # type: ignore[no-untyped-def]
    pool = aiodb.LoopPool("default", size=1)
    async with pool.connection() as connection:
        await connection.execute("BEGIN")
        doubtful = connection
    assert doubtful.closed
    async with pool.connection() as connection:
        assert connection is not doubtful
        cursor = await connection.execute("SELECT 1")
        assert await cursor.fetchone() == (1,)
    pool.close_now()


async def test_a_failed_statement_leaves_a_usable_connection():  # type: ignore[no-untyped-def]
    pool = aiodb.LoopPool("default", size=1)
    with pytest.raises(Exception, match="division by zero"):
        async with pool.connection() as connection:
            await connection.execute("SELECT 1 / 0")
    async with pool.connection() as again:
        assert again is connection  # autocommit: the error ended nothing but the statement
    pool.close_now()


async def test_a_cancelled_waiter_does_not_lose_the_connection():  # type: ignore[no-untyped-def]
    pool = aiodb.LoopPool("default", size=1)
    first = await pool._acquire()
    waiter = asyncio.create_task(pool._acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    pool._release(first)
    with pytest.raises(asyncio.CancelledError):
        await waiter
    async with pool.connection() as connection:
        assert connection is first
    pool.close_now()


def test_sqlite_is_not_served(settings):  # type: ignore[no-untyped-def]
    settings.PARLEY_LOOP_DATABASE = False
    assert aiodb.available() is False


async def test_statements_on_one_connection_share_its_cursor_also_after_a_failed_one():  # type: ignore[no-untyped-def]
    pool = aiodb.pool()
    pool.close_now()
    pool.size = 1
    assert await aiodb.fetchone("SELECT %(a)s::int + 1, %(b)s::text", {"a": 1, "b": "x"}) == (2, "x")
    async with pool.connection() as connection:
        cursor = connection.parley_cursor
    with pytest.raises(Exception, match="division by zero"):
        await aiodb.fetchone("SELECT %(a)s::int / 0", {"a": 1})
    assert await aiodb.fetchone("SELECT %(a)s::int * 3", {"a": 2}) == (6,)
    assert await aiodb.fetchone("SELECT 1 WHERE false", {}) is None
    async with pool.connection() as again:
        assert again is connection and again.parley_cursor is cursor
    aiodb.close_all()
