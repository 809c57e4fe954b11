"""The event loop's PostgreSQL connections (engage.lib.aiodb): pipelined, each statement its own
transaction, answers in order, errors to their own statement, a failed connection dropped."""

from __future__ import annotations

import asyncio

import psycopg
import psycopg.errors
import pytest
from asgiref.sync import sync_to_async
from django.db import connection as django_connection

from engage.lib import aiodb

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture
def one_connection():  # type: ignore[no-untyped-def]
    """The running loop's connections, limited to one: every statement shares it."""

    def limit() -> aiodb.LoopPipelines:
        found = aiodb.pool()
        found.close_now()
        found.size = 1
        return found

    yield limit
    aiodb.close_all()


def _in_worker(function):  # type: ignore[no-untyped-def]
    """``function`` in a worker thread on Django's connection, closed again: the worker thread
    outlives the test, and a later test without database access must not find it open."""

    def run(*args):  # type: ignore[no-untyped-def]
        try:
            return function(*args)
        finally:
            django_connection.close()

    return sync_to_async(run)


def _scratch_table() -> None:
    with django_connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS aiodb_scratch (id int PRIMARY KEY, note text)")
        cursor.execute("TRUNCATE aiodb_scratch")


def _scratch_rows() -> list[tuple[int, str]]:
    with django_connection.cursor() as cursor:
        cursor.execute("SELECT id, note FROM aiodb_scratch ORDER BY id")
        return list(cursor.fetchall())


async def test_statements_run_with_djangos_time_zone_and_commit_on_their_own(one_connection):  # type: ignore[no-untyped-def]
    one_connection()
    await _in_worker(_scratch_table)()
    zone, now = await aiodb.fetchone("SELECT current_setting('TimeZone'), now()", {})
    assert zone == "UTC"
    assert now.utcoffset().total_seconds() == 0
    assert await aiodb.fetchone(
        "INSERT INTO aiodb_scratch VALUES (%(id)s, %(note)s) RETURNING id", {"id": 1, "note": "a"}
    ) == (1,)
    assert await _in_worker(_scratch_rows)() == [(1, "a")]  # seen by another connection: committed


async def test_named_positional_repeated_and_escaped_placeholders(one_connection):  # type: ignore[no-untyped-def]
    one_connection()
    assert await aiodb.fetchone("SELECT %(a)s::int + 1, %(b)s::text, %(a)s::int", {"a": 1, "b": "x"}) == (2, "x", 1)
    assert await aiodb.fetchone("SELECT %s::int * 2, %s::text || '%%'", [21, "50"]) == (42, "50%")
    assert await aiodb.fetchone("SELECT 1 WHERE false", {}) is None
    with pytest.raises(ValueError, match="named or positional"):
        await aiodb.fetchone("SELECT %(a)s, %s", {"a": 1})


async def test_statements_in_flight_together_get_their_own_answers_in_order(one_connection):  # type: ignore[no-untyped-def]
    pool = one_connection()
    answers = await asyncio.gather(
        *(aiodb.fetchone("SELECT %(i)s::int * 10, pg_backend_pid()", {"i": number}) for number in range(30))
    )
    assert [row[0] for row in answers] == [number * 10 for number in range(30)]
    assert len({row[1] for row in answers}) == 1  # one connection, pipelined
    assert len(pool.connections) == 1


async def test_an_error_ends_only_its_own_statement(one_connection):  # type: ignore[no-untyped-def]
    pool = one_connection()
    await _in_worker(_scratch_table)()
    insert = "INSERT INTO aiodb_scratch VALUES (%(id)s, %(note)s) RETURNING note"
    first, duplicate, after = await asyncio.gather(
        aiodb.fetchone(insert, {"id": 1, "note": "first"}),
        aiodb.fetchone(insert, {"id": 1, "note": "again"}),
        aiodb.fetchone(insert, {"id": 2, "note": "after"}),
        return_exceptions=True,
    )
    assert first == ("first",)
    assert isinstance(duplicate, psycopg.errors.UniqueViolation)
    assert isinstance(duplicate, psycopg.IntegrityError)
    assert after == ("after",)
    assert await _in_worker(_scratch_rows)() == [(1, "first"), (2, "after")]
    with pytest.raises(psycopg.errors.DivisionByZero):
        await aiodb.fetchone("SELECT %(a)s::int / 0", {"a": 1})
    assert await aiodb.fetchone("SELECT %(a)s::int * 3", {"a": 2}) == (6,)
    assert len(pool.connections) == 1  # the errors did not cost the connection


async def test_a_statement_that_cannot_be_prepared_is_forgotten(one_connection):  # type: ignore[no-untyped-def]
    pool = one_connection()
    with pytest.raises(psycopg.errors.UndefinedTable):
        await aiodb.fetchone("SELECT * FROM aiodb_not_yet WHERE %(a)s::int = 1", {"a": 1})
    assert (pool.connections[0].prepared, pool.connections[0].preparing) == ({}, {})
    await _in_worker(_create_not_yet)()
    try:
        assert await aiodb.fetchone("SELECT count(*) FROM aiodb_not_yet WHERE %(a)s::int = 1", {"a": 1}) == (0,)
        assert await aiodb.fetchone("SELECT * FROM aiodb_not_yet WHERE %(a)s::int = 1", {"a": 1}) is None
    finally:
        await _in_worker(_drop_not_yet)()


def _create_not_yet() -> None:
    with django_connection.cursor() as cursor:
        cursor.execute("CREATE TABLE aiodb_not_yet (id int)")


def _drop_not_yet() -> None:
    with django_connection.cursor() as cursor:
        cursor.execute("DROP TABLE aiodb_not_yet")


async def test_a_cancelled_caller_leaves_its_statement_to_run_and_the_connection_to_serve(one_connection):  # type: ignore[no-untyped-def]
    one_connection()
    await _in_worker(_scratch_table)()
    slow = asyncio.create_task(
        aiodb.fetchone("SELECT pg_sleep(0.2), %(id)s::int", {"id": 0})  # holds the pipeline a moment
    )
    insert = asyncio.create_task(
        aiodb.fetchone("INSERT INTO aiodb_scratch VALUES (%(id)s, 'x') RETURNING id", {"id": 7})
    )
    await asyncio.sleep(0.05)
    insert.cancel()
    with pytest.raises(asyncio.CancelledError):
        await insert
    await slow
    assert await aiodb.fetchone("SELECT %(a)s::int", {"a": 5}) == (5,)  # answered after the cancelled one
    assert await _in_worker(_scratch_rows)() == [(7, "x")]


async def test_a_lost_connection_fails_what_is_in_flight_and_the_next_statement_opens_another(one_connection):  # type: ignore[no-untyped-def]
    pool = one_connection()
    (lost_pid,) = await aiodb.fetchone("SELECT pg_backend_pid()", {})
    waiting = asyncio.create_task(aiodb.fetchone("SELECT pg_sleep(5), %(a)s::int", {"a": 1}))
    await asyncio.sleep(0.1)
    await _in_worker(_terminate)(lost_pid)
    with pytest.raises(psycopg.OperationalError):
        await asyncio.wait_for(waiting, 5)
    (pid,) = await aiodb.fetchone("SELECT pg_backend_pid()", {})
    assert pid != lost_pid
    assert len(pool.connections) == 1


def _terminate(pid: int) -> None:
    with django_connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


async def test_another_connection_opens_while_each_has_enough_in_flight(one_connection):  # type: ignore[no-untyped-def]
    pool = one_connection()
    pool.size, pool.depth = 2, 1
    first, second = await asyncio.gather(
        aiodb.fetchone("SELECT pg_backend_pid() FROM pg_sleep(0.05)", {}),
        aiodb.fetchone("SELECT pg_backend_pid() FROM pg_sleep(0.05)", {}),
    )
    assert first != second
    assert len(pool.connections) == 2
    for _ in range(3):  # never more than the size
        await asyncio.gather(*(aiodb.fetchone("SELECT 1", {}) for _ in range(6)))
    assert len(pool.connections) == 2


def test_sqlite_is_not_served(settings):  # type: ignore[no-untyped-def]
    settings.PARLEY_LOOP_DATABASE = False
    assert aiodb.available() is False


async def test_without_prepared_statements_the_same_answers(one_connection, settings):  # type: ignore[no-untyped-def]
    settings.PARLEY_LOOP_DATABASE_PREPARE = False
    pool = one_connection()
    assert await aiodb.fetchone("SELECT %(a)s::int + 1", {"a": 1}) == (2,)
    with pytest.raises(psycopg.errors.DivisionByZero):
        await aiodb.fetchone("SELECT %(a)s::int / 0", {"a": 1})
    assert await aiodb.fetchone("SELECT %(a)s::int + 2", {"a": 1}) == (3,)
    assert pool.connections[0].prepared == {}


async def test_statements_beyond_the_prepared_limit_are_parsed_each_time(one_connection, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(aiodb, "MAX_PREPARED", 2)
    pool = one_connection()
    answers = [await aiodb.fetchone(f"SELECT %(a)s::int + {number}", {"a": 1}) for number in range(4)]
    assert answers == [(1,), (2,), (3,), (4,)]
    assert len(pool.connections[0].prepared) == 2
    assert await aiodb.fetchone("SELECT %(a)s::int + 3", {"a": 1}) == (4,)  # again, unprepared
    assert len(pool.connections[0].prepared) == 2


async def test_runs_sent_while_their_shape_is_being_prepared_get_their_own_errors(one_connection):  # type: ignore[no-untyped-def]
    one_connection()
    answers = await asyncio.gather(
        *(aiodb.fetchone("SELECT * FROM aiodb_missing WHERE %(a)s::int = 1", {"a": n}) for n in range(3)),
        return_exceptions=True,
    )
    assert [type(answer) for answer in answers] == [psycopg.errors.UndefinedTable] * 3


async def test_a_statement_failing_after_its_preparation_keeps_it_prepared(one_connection):  # type: ignore[no-untyped-def]
    pool = one_connection()
    for _ in range(5):
        with pytest.raises(psycopg.errors.DivisionByZero):
            await aiodb.fetchone("SELECT %(a)s::int / 0", {"a": 1})
    connection = pool.connections[0]
    assert len(connection.prepared) == 1  # prepared once, not once per failure
    (on_server,) = await aiodb.fetchone("SELECT count(*) FROM pg_prepared_statements WHERE %(a)s::int = 1", {"a": 1})
    assert on_server == len(connection.prepared) == 2  # the failing one and this count: nothing left behind


async def test_a_value_no_loader_reads_fails_its_statement_not_the_connection(one_connection):  # type: ignore[no-untyped-def]
    pool = one_connection()
    assert await aiodb.fetchone("SELECT %(a)s::int", {"a": 1}) == (1,)
    connection = pool.connections[0]
    real = connection.transformer

    class Refusing:
        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return getattr(real, name)

        def load_row(self, row, make_row):  # type: ignore[no-untyped-def]
            raise ValueError("no loader for this")

    connection.transformer = Refusing()
    with pytest.raises(ValueError, match="no loader"):
        await aiodb.fetchone("SELECT %(a)s::int", {"a": 2})
    connection.transformer = real
    assert await aiodb.fetchone("SELECT %(a)s::int", {"a": 3}) == (3,)
    assert pool.connections == [connection]


async def test_when_another_connection_cannot_be_opened_the_open_ones_serve(one_connection, monkeypatch):  # type: ignore[no-untyped-def]
    pool = one_connection()
    pool.size, pool.depth = 3, 1
    assert await aiodb.fetchone("SELECT 1", {}) == (1,)
    attempts = []

    async def refused() -> None:
        attempts.append(1)
        raise psycopg.OperationalError("too many clients")

    monkeypatch.setattr(pool, "_open", refused)
    answers = await asyncio.gather(*(aiodb.fetchone("SELECT %(n)s::int", {"n": n}) for n in range(5)))
    assert answers == [(n,) for n in range(5)]
    assert len(pool.connections) == 1
    assert len(attempts) == 1  # then no other attempt for RETRY_SECONDS


async def test_closing_fails_the_statements_in_flight(one_connection):  # type: ignore[no-untyped-def]
    pool = one_connection()
    waiting = asyncio.create_task(aiodb.fetchone("SELECT pg_sleep(2), %(a)s::int", {"a": 1}))
    await asyncio.sleep(0.1)
    pool.close_now()
    with pytest.raises(psycopg.OperationalError, match="closed"):
        await asyncio.wait_for(waiting, 1)


async def test_statements_larger_than_the_socket_takes_at_once_are_sent_when_it_is_writable(
    one_connection, monkeypatch
):  # type: ignore[no-untyped-def]
    one_connection()
    writable = []
    original = aiodb.PipelinedConnection._writable

    def counted(self):  # type: ignore[no-untyped-def]
        writable.append(1)
        original(self)

    monkeypatch.setattr(aiodb.PipelinedConnection, "_writable", counted)
    big = "x" * (8 * 1024 * 1024)  # far beyond a socket's buffer: libpq writes it in parts
    answers = await asyncio.gather(
        *(aiodb.fetchone("SELECT length(%(s)s::text), %(n)s::int", {"s": big, "n": n}) for n in range(3))
    )
    assert answers == [(len(big), n) for n in range(3)]
    assert writable  # the rest went out when the socket could take it


async def test_submit_now_sends_only_when_a_connection_can_take_the_statement(one_connection):  # type: ignore[no-untyped-def]
    pool = one_connection()
    assert aiodb.submit_now("SELECT %(a)s::int", {"a": 1}) is None  # none open yet: nothing sent
    assert await (await aiodb.submit("SELECT %(a)s::int", {"a": 2})) == (2,)  # opens one
    sent = [aiodb.submit_now("SELECT %(a)s::int, pg_sleep(0.05)", {"a": n}) for n in range(pool.depth + 1)]
    assert all(future is not None for future in sent[: pool.depth])
    assert sent[pool.depth] is None  # as many in flight as the connection takes: the caller waits
    assert [row[0] for row in await asyncio.gather(*sent[: pool.depth])] == list(range(pool.depth))


async def test_submit_gives_a_connection_that_cannot_be_opened_as_the_futures_error(one_connection, monkeypatch):  # type: ignore[no-untyped-def]
    one_connection()

    async def refused(self):  # type: ignore[no-untyped-def]
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(aiodb.LoopPipelines, "_open", refused)
    answer = await aiodb.submit("SELECT 1", {})
    with pytest.raises(psycopg.OperationalError, match="refused"):
        await answer


async def test_statements_fill_the_first_connection_with_room_before_the_others(one_connection):  # type: ignore[no-untyped-def]
    pool = one_connection()
    pool.size, pool.depth = 2, 1
    await asyncio.gather(*(aiodb.fetchone("SELECT pg_sleep(0.05)", {}) for _ in range(2)))  # opens both
    first, second = pool.connections
    pool.depth = 3
    sent = [aiodb.submit_now("SELECT pg_backend_pid(), pg_sleep(0.05)", {}) for _ in range(4)]
    assert [len(first), len(second)] == [3, 1]  # the first until it has ``depth``, then the next
    pids = [row[0] for row in await asyncio.gather(*sent)]
    assert pids[0] == pids[1] == pids[2] != pids[3]
    assert await aiodb.fetchone("SELECT pg_backend_pid()", {}) == (pids[0],)  # the first again, free now
