"""PostgreSQL from the event loop: a few pipelined psycopg connections per loop, for the hottest writes.

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

A connection runs in libpq's pipeline mode (``PipelinedConnection``), each
statement followed by a Sync: a statement commits on its own and an error ends
only that statement, as in autocommit; a connection that fails or falls out of
step fails every statement in flight with ``psycopg.OperationalError`` and is
dropped. PostgreSQL only: ``available()`` says no elsewhere.
"""

from __future__ import annotations

import asyncio
import functools
import re
import weakref
from collections import deque
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from engage.lib.cached_settings import setting

try:
    import psycopg
    import psycopg.errors
    from psycopg.adapt import PyFormat, Transformer
    from psycopg.pq import ExecStatus, Format
    from psycopg.types.datetime import TimestamptzLoader

    TEXT = Format.TEXT
    TUPLES_OK, COMMAND_OK, FATAL_ERROR = ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK, ExecStatus.FATAL_ERROR
    PIPELINE_SYNC, PIPELINE_ABORTED = ExecStatus.PIPELINE_SYNC, ExecStatus.PIPELINE_ABORTED
except ImportError:  # pragma: no cover - the embedded profile may run without psycopg
    psycopg = None  # type: ignore[assignment]


def available(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether writes may go through this module: PostgreSQL with psycopg 3, not switched off."""
    if psycopg is None or not setting("PARLEY_LOOP_DATABASE", True):
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
    params["cursor_factory"] = psycopg.AsyncCursor  # Django's is a client-side binding one
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


# ``%(name)s`` (named), ``%s`` (positional) and ``%%`` in the SQL text Django's way of writing it.
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


@functools.lru_cache(maxsize=256)
def _statement(sql: str) -> tuple[bytes, tuple[str | int, ...], tuple[Any, ...]]:
    """``sql`` with PostgreSQL's ``$n`` placeholders, the key of each parameter (a name, or a
    position) in order, the same name twice being one parameter as psycopg binds it, and the
    formats the parameters are dumped in (psycopg's choice per value). psycopg does this in a
    private module (``psycopg._queries``); this is the part of it Django's SQL needs."""
    keys: list[str | int] = []
    numbers: dict[str, int] = {}

    def placeholder(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "%%":
            return "%"
        name = match.group(1)
        if name is None:
            keys.append(len(keys))
            return f"${len(keys)}"
        if name not in numbers:
            keys.append(name)
            numbers[name] = len(keys)
        return f"${numbers[name]}"

    query = _PLACEHOLDER.sub(placeholder, sql)
    if any(isinstance(key, int) for key in keys) and any(isinstance(key, str) for key in keys):
        raise ValueError("A statement takes named or positional parameters, not both.")
    return query.encode(), tuple(keys), (PyFormat.AUTO,) * len(keys)


# Statements prepared per connection at most; others are parsed each time they run. The loop's
# statements are a handful of shapes; this bounds what an unexpected variety would cost the server.
MAX_PREPARED = 64


class _InFlight:
    """A statement sent and not yet answered: its caller's future and what its results brought."""

    __slots__ = ("error", "future", "preparing", "row")

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self.future = future
        self.preparing: tuple[bytes, tuple[int, ...]] | None = None  # its prepare's result is still due
        self.error: BaseException | None = None
        self.row: Any = None


_Key = tuple[bytes, tuple[int, ...]]


class PipelinedConnection:
    """One psycopg connection of one event loop, driven at the libpq level in pipeline mode.

    psycopg's ``AsyncCursor.execute`` costs about 60 Python calls a statement
    (its generators, its lock, a reader added to the loop and removed again per
    wait). Here a statement is psycopg's C pieces only: its ``Transformer``
    dumps the parameters and loads the row, libpq sends the prepared statement
    and a Sync (each statement commits on its own, as in autocommit, and an
    error ends only its own statement), and one reader, registered once, reads
    the answers as they come, in order. Statements do not wait for each other's
    answers: under load one round trip carries several.

    A statement of a new shape is prepared with its first run; runs sent before
    the server has confirmed that preparation are sent unprepared, so that a
    preparation that fails fails only its own statement, with its own error.
    """

    def __init__(self, connection: Any, loop: asyncio.AbstractEventLoop, *, prepare: bool) -> None:
        self.connection = connection  # for its adapters and its socket: never used for a query again
        self.pgconn = connection.pgconn
        self.loop = loop
        self.prepare = prepare
        self.transformer = Transformer.from_context(connection)
        self.prepared: dict[_Key, bytes] = {}  # confirmed by the server
        self.preparing: dict[_Key, bytes] = {}  # sent, not yet confirmed
        self.in_flight: deque[_InFlight] = deque()
        self.failed: BaseException | None = None
        self._answered = False  # a result of the head statement's current command came in
        self._writing = False
        self._names = 0
        self.fd = self.pgconn.socket
        self.pgconn.enter_pipeline_mode()
        loop.add_reader(self.fd, self._readable)

    def __len__(self) -> int:
        return len(self.in_flight)

    def submit(self, sql: str, params: Any) -> asyncio.Future[Any]:
        """Sends the statement; the future gets its first row (a tuple), None, or psycopg's error."""
        if self.failed is not None:
            raise psycopg.OperationalError("the connection failed") from self.failed
        query, keys, wanted = _statement(sql)
        values = [params[key] for key in keys]
        transformer = self.transformer
        dumped = transformer.dump_sequence(values, wanted)
        types, formats = transformer.types, transformer.formats
        statement = _InFlight(self.loop.create_future())
        pgconn = self.pgconn
        try:
            name = None
            if self.prepare:
                key = (query, types or ())
                name = self.prepared.get(key)
                if name is None and key not in self.preparing and len(self.prepared) < MAX_PREPARED:
                    self._names += 1
                    name = self.preparing[key] = b"parley_%d" % self._names
                    statement.preparing = key
                    pgconn.send_prepare(name, query, param_types=types)
            if name is not None:
                pgconn.send_query_prepared(name, dumped, param_formats=formats, result_format=TEXT)
            else:  # not preparing, being prepared, or as many prepared as a connection keeps
                pgconn.send_query_params(query, dumped, param_types=types, param_formats=formats, result_format=TEXT)
            pgconn.pipeline_sync()
            self.in_flight.append(statement)
            self._flush()
        except psycopg.Error as error:
            self._fail(error)
            if statement.future.done():  # in flight already: ``_fail`` gave its future the error
                return statement.future
            raise
        return statement.future

    def _flush(self) -> None:
        if self.pgconn.flush() and not self._writing:  # libpq could not write it all: when writable
            self._writing = True
            self.loop.add_writer(self.fd, self._writable)

    def _writable(self) -> None:
        try:
            if self.pgconn.flush() == 0:
                self._writing = False
                self.loop.remove_writer(self.fd)
        except Exception as error:
            self._fail(error)

    def _readable(self) -> None:
        pgconn = self.pgconn
        try:
            pgconn.consume_input()
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the end of a command's results, or nothing more for now
                    if not self._answered:
                        break
                    self._answered = False
                    continue
                if not self.in_flight:
                    raise psycopg.OperationalError("a result came for no statement: out of step")
                if result.status == PIPELINE_SYNC:  # the end of the head statement
                    self._settle(self.in_flight.popleft())
                    continue
                self._answered = True
                self._take(self.in_flight[0], result)
        except Exception as error:  # lost, or out of step: nothing more can be read in order
            self._fail(error)

    def _take(self, statement: _InFlight, result: Any) -> None:
        status = result.status
        if statement.preparing is not None:  # the first result is the preparation's
            key, statement.preparing = statement.preparing, None
            name = self.preparing.pop(key, None)
            if status == COMMAND_OK and name is not None:
                self.prepared[key] = name
                return
        if status == TUPLES_OK:
            if statement.error is None and result.ntuples:
                try:
                    self.transformer.set_pgresult(result)
                    statement.row = self.transformer.load_row(0, tuple)
                except Exception as error:  # a loader refused the value: the caller gets it
                    statement.error = error
        elif status == FATAL_ERROR:
            if statement.error is None:
                statement.error = psycopg.errors.error_from_result(result, encoding=self.encoding)
        elif status == PIPELINE_ABORTED:
            if statement.error is None:
                statement.error = psycopg.OperationalError("the statement was not run: an earlier one failed")
        elif status != COMMAND_OK:
            statement.error = statement.error or psycopg.NotSupportedError(f"unexpected result {status!r}")

    @property
    def encoding(self) -> str:
        return self.connection.info.encoding

    @staticmethod
    def _settle(statement: _InFlight) -> None:
        if statement.future.done():  # its caller was cancelled: the statement ran all the same
            return
        if statement.error is not None:
            statement.future.set_exception(statement.error)
        else:
            statement.future.set_result(statement.row)

    def _fail(self, error: BaseException) -> None:
        """The connection is lost, out of step or closed: every statement in flight gets an
        ``OperationalError`` (whatever became of it on the server), and the connection goes."""
        if self.failed is None:
            self.failed = error
            if not self.loop.is_closed():
                self.loop.remove_reader(self.fd)
                if self._writing:
                    self.loop.remove_writer(self.fd)
            self.pgconn.finish()  # also of a connection already lost: frees libpq's side
        while self.in_flight:
            future = self.in_flight.popleft().future
            if not future.done() and not self.loop.is_closed():
                failure = psycopg.OperationalError(f"the connection failed: {error}")
                failure.__cause__ = error
                future.set_exception(failure)

    def close(self) -> None:
        self._fail(psycopg.OperationalError("the connection was closed"))


class LoopPipelines:
    """Up to ``size`` pipelined connections of one event loop.

    A statement goes to the first connection, in the order they were opened, with fewer than
    ``depth`` in flight; another is opened (up to ``size``) while every open one has ``depth`` or
    more, so that a statement waiting for a row lock delays few others. Filling the first
    connections rather than spreading statements over all of them lets one read of a backend
    bring several statements: in the gateway's bench at 1 000 msg/s, PostgreSQL's CPU per
    message had a median of 484 µs against 683 µs (docs/performance.md, "Thirteenth session").
    A failed connection is dropped: the next statement opens a new one. When opening one fails
    while others serve, they go on serving, and no other is tried for ``RETRY_SECONDS``.
    """

    RETRY_SECONDS = 1.0

    def __init__(self, alias: str, size: int, depth: int = 4) -> None:
        self.alias = alias
        self.size = max(1, size)
        self.depth = depth
        self.connections: list[PipelinedConnection] = []
        self._opening = 0
        self._opened: asyncio.Future[None] | None = None
        self._retry_at = 0.0

    async def _open(self) -> PipelinedConnection:
        wrapper = connections[self.alias]
        connection = await psycopg.AsyncConnection.connect(**_connect_params(self.alias))
        try:
            if wrapper.timezone_name and connection.info.parameter_status("TimeZone") != wrapper.timezone_name:
                await connection.execute("SELECT set_config('TimeZone', %s, false)", [wrapper.timezone_name])
            _load_timestamps_in_c(connection, wrapper)
            prepare = getattr(settings, "PARLEY_LOOP_DATABASE_PREPARE", True)
            return PipelinedConnection(connection, asyncio.get_running_loop(), prepare=prepare)
        except BaseException:
            connection.pgconn.finish()
            raise

    def ready(self) -> PipelinedConnection | None:
        """``connection()``'s answer when it needs no waiting: the first connection with fewer than
        ``depth`` in flight, if none has failed; None otherwise."""
        free = None
        for found in self.connections:
            if found.failed is not None:
                return None  # ``connection()`` drops it first
            if free is None and len(found.in_flight) < self.depth:
                free = found
        return free

    async def connection(self) -> PipelinedConnection:
        loop = asyncio.get_running_loop()
        while True:
            self.connections = [found for found in self.connections if found.failed is None]
            free = self.ready()  # none has failed now: the first with room, if any
            if free is not None:
                return free
            best = min(self.connections, key=len, default=None)
            room = len(self.connections) + self._opening < self.size
            if best is not None and (not room or loop.time() < self._retry_at):
                return best
            if room:
                try:
                    return await self._open_one()
                except Exception:
                    self._retry_at = loop.time() + self.RETRY_SECONDS
                    if best is not None and best.failed is None:
                        return best
                    raise
            opening = self._opened  # the size is reached by connections being opened: wait for one
            assert opening is not None
            await asyncio.shield(opening)

    async def _open_one(self) -> PipelinedConnection:
        self._opening += 1
        if self._opened is None or self._opened.done():
            self._opened = asyncio.get_running_loop().create_future()
        opened = self._opened
        try:
            connection = await self._open()
            self.connections.append(connection)
            return connection
        finally:
            self._opening -= 1
            if not opened.done():
                opened.set_result(None)  # the callers waiting look again (and open one if it failed)

    def close_now(self) -> None:
        """Closes every connection at once (tests, a closed loop); statements in flight fail."""
        for found in self.connections:
            found.close()
        self.connections = []


async def fetchone(sql: str, params: Any, alias: str = DEFAULT_DB_ALIAS) -> Any:
    """The first row of one statement (a tuple, or None), on a connection of the running loop;
    psycopg's errors propagate (``OperationalError`` when the connection failed: it is dropped)."""
    return await (await submit(sql, params, alias))


async def submit(sql: str, params: Any, alias: str = DEFAULT_DB_ALIAS) -> asyncio.Future[Any]:
    """Sends one statement and returns the future of its first row (``fetchone``'s answer), without
    waiting for the answer: a caller may act on it in a callback, with no task. Waits only when a
    connection has to be opened first. psycopg's errors, a connection that could not be opened
    included, come as the future's."""
    sent = submit_now(sql, params, alias)
    if sent is not None:
        return sent
    try:
        connection = await pool(alias).connection()
    except psycopg.Error as error:
        return _failed(error)
    return _sent(connection, sql, params)


def submit_now(sql: str, params: Any, alias: str = DEFAULT_DB_ALIAS) -> asyncio.Future[Any] | None:
    """``submit`` when a connection can take the statement at once: sent before this returns; None
    (nothing sent) when a connection has to be opened or found first (``submit`` then waits)."""
    connection = pool(alias).ready()
    return None if connection is None else _sent(connection, sql, params)


def _sent(connection: PipelinedConnection, sql: str, params: Any) -> asyncio.Future[Any]:
    try:
        return connection.submit(sql, params)
    except psycopg.Error as error:  # not sent: the connection had failed, or libpq refused it
        return _failed(error)


def _failed(error: BaseException) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, LoopPipelines]] = weakref.WeakKeyDictionary()


def pool(alias: str = DEFAULT_DB_ALIAS) -> LoopPipelines:
    """The running loop's connections to ``alias`` (made on first use)."""
    loop = asyncio.get_running_loop()
    pools = _POOLS.get(loop)
    if pools is None:
        pools = _POOLS[loop] = {}
    found = pools.get(alias)
    if found is None:
        found = pools[alias] = LoopPipelines(alias, size=int(getattr(settings, "PARLEY_LOOP_DATABASE_POOL", 8)))
    return found


def close_all() -> None:
    """Closes every loop's connections, from the thread of their loop or after it stopped (a
    test's loop ends with its test); statements still in flight fail."""
    for pools in list(_POOLS.values()):
        for found in pools.values():
            found.close_now()
    _POOLS.clear()
