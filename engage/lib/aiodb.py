"""PostgreSQL from the event loop: a few psycopg async connections per loop, for the hottest writes.

Django runs queries only in threads, so a socket's write costs two thread
switches, Django's connection handling and a checkout from its pool around one
statement (docs/performance.md, "Visitor gateway"). The one-statement message
write (``chat.services.amessage_create``) runs here instead, in the server's
loop, on connections made with Django's own settings and adapters (the same
parameters, time zone and type loaders as ``connections["default"]``, but
psycopg's C loader for timestamps where it gives the same values), with
server-side binding and prepared statements (``DATABASE_LOOP_PREPARE=false``
turns the latter off, for a pooler that cannot keep them). So does an agent's
reply (``chat.services.areply_create``). The statements, their values and the
values read back are those of ``chat._sql`` (ADR 0006).

Each connection is in autocommit: a statement commits on its own. A connection
whose state is doubtful after an error (broken, or not idle) is closed, never
given to the next caller. PostgreSQL only: ``available()`` says no elsewhere.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

try:
    import psycopg
    from psycopg.pq import TransactionStatus
    from psycopg.types.datetime import TimestamptzLoader
except ImportError:  # pragma: no cover - the embedded profile may run without psycopg
    psycopg = None  # type: ignore[assignment]


def available(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether writes may go through this module: PostgreSQL with psycopg 3, not switched off."""
    if psycopg is None or not getattr(settings, "PARLEY_LOOP_DATABASE", True):
        return False
    return wrapper(alias).vendor == "postgresql"


@functools.cache
def wrapper(alias: str = DEFAULT_DB_ALIAS) -> Any:
    """A Django connection wrapper of ``alias`` for its operations and converters (value
    preparation, row loading), never for a query: looked up once, not per statement."""
    return connections[alias]


def _connect_params(alias: str) -> dict[str, Any]:
    wrapper = connections[alias]
    params = wrapper.get_connection_params()  # Django's: dbname, user, host, adapters template, …
    # Server-side binding and prepared statements: the few statements sent from the loop are
    # parsed and planned once per connection, and psycopg does not quote every value into the
    # SQL text (client-side binding, Django's default, was a fifth of the write's CPU).
    params["cursor_factory"] = psycopg.AsyncCursor
    params["prepare_threshold"] = 0 if getattr(settings, "PARLEY_LOOP_DATABASE_PREPARE", True) else None
    params["autocommit"] = True
    params.setdefault("application_name", "parley-loop")  # told apart in pg_stat_activity
    return params


def _load_timestamps_in_c(connection: Any, wrapper: Any) -> None:
    """psycopg's own timestamptz loader, in C, where it gives what Django's gives.

    Django loads timestamps with a Python subclass of psycopg's loader that sets
    the tzinfo to its connection time zone's (``DatabaseWrapper.timezone``); being
    a subclass, it forgoes psycopg's C loader, and parsing a dozen timestamps per
    row was a tenth of a loop write's CPU. When the connection's time zone gives
    psycopg that very tzinfo (with time zone support on: UTC, the default), the two
    loaders return the same aware datetimes.
    """
    if settings.USE_TZ and connection.info.timezone is wrapper.timezone:
        connection.adapters.register_loader("timestamptz", TimestamptzLoader)  # psycopg swaps in its C class


class LoopPool:
    """Up to ``size`` connections of one event loop; callers beyond that wait their turn, in order."""

    def __init__(self, alias: str, size: int) -> None:
        self.alias = alias
        self.size = size
        self._idle: list[Any] = []
        self._count = 0
        self._waiters: deque[asyncio.Future[Any]] = deque()

    async def _open(self) -> Any:
        wrapper = connections[self.alias]
        connection = await psycopg.AsyncConnection.connect(**_connect_params(self.alias))
        if wrapper.timezone_name and connection.info.parameter_status("TimeZone") != wrapper.timezone_name:
            await connection.execute("SELECT set_config('TimeZone', %s, false)", [wrapper.timezone_name])
        _load_timestamps_in_c(connection, wrapper)
        # One cursor per connection, for every statement it runs: a cursor made per statement
        # copies the connection's adapters and starts its dumpers and loaders afresh (a sixth of
        # the loop's write, bench/message_create.py --in-loop). A connection serves one caller at
        # a time, so its cursor does too.
        connection.parley_cursor = connection.cursor()
        return connection

    async def _acquire(self) -> Any:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and not connection.broken:
                return connection
            self._count -= 1
        if self._count < self.size:
            self._count += 1
            try:
                return await self._open()
            except BaseException:
                self._count -= 1
                self._wake()
                raise
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            connection = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed over just as we were cancelled
                self._release(waiter.result())
            raise
        if connection is None:  # a slot was freed: open one
            return await self._acquire()
        return connection

    def _wake(self) -> None:
        """A slot was freed (a connection closed): the next waiter may open one."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, connection: Any) -> None:
        healthy = (
            not connection.closed
            and not connection.broken
            and connection.info.transaction_status == TransactionStatus.IDLE
        )
        if not healthy:
            self._count -= 1
            if not connection.closed:
                connection.pgconn.finish()
            self._wake()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        connection = await self._acquire()
        try:
            yield connection
        finally:
            self._release(connection)

    def close_now(self) -> None:
        """Closes the idle connections at once, without the loop (tests, a closed loop)."""
        while self._idle:
            connection = self._idle.pop()
            self._count -= 1
            if not connection.closed:
                connection.pgconn.finish()


async def fetchone(sql: str, params: Any, alias: str = DEFAULT_DB_ALIAS) -> Any:
    """The first row of one statement (or None), run on a connection of the running loop's pool.
    psycopg's errors propagate, the connection back in the pool (or dropped) first."""
    async with pool(alias).connection() as database:
        cursor = database.parley_cursor
        await cursor.execute(sql, params)
        return await cursor.fetchone()


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopPool] = weakref.WeakKeyDictionary()


def pool(alias: str = DEFAULT_DB_ALIAS) -> LoopPool:
    """The running loop's pool (made on first use)."""
    loop = asyncio.get_running_loop()
    found = _POOLS.get(loop)
    if found is None:
        found = _POOLS[loop] = LoopPool(alias, size=int(getattr(settings, "PARLEY_LOOP_DATABASE_POOL", 8)))
    return found


def close_all() -> None:
    """Closes every loop's idle connections (a test's loop ends with its test)."""
    for found in list(_POOLS.values()):
        found.close_now()
    _POOLS.clear()
