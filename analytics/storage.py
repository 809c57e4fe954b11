"""Set-based writes of ingested batches: four statements per flush, whatever its size.

On PostgreSQL each statement inserts all rows of its table at once from arrays
(``INSERT … SELECT FROM unnest(…)``), upserting visitors, visits and page views
(a page view's later PUT raises its time on page). The embedded SQLite profile
runs the same upserts row by row. Called only by ``analytics.writer``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction

from analytics.models import Event, PageView, Visit, Visitor
from analytics.validation import Batch


@dataclasses.dataclass(frozen=True, slots=True)
class Accepted:
    """An accepted batch, bound to the tenant and channel its URL named."""

    tenant_id: int
    channel_pk: int
    batch: Batch


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclasses.dataclass(slots=True)
class _Rows:
    visitors: dict[tuple[int, str], list[int]] = dataclasses.field(default_factory=dict)
    visits: dict[tuple[int, str, str], list[int]] = dataclasses.field(default_factory=dict)
    page_views: dict[tuple[int, str, str, str], list[Any]] = dataclasses.field(default_factory=dict)
    # (tenant, visitor, visit, kind, name, page view id, occurred at ms, data JSON)
    events: list[tuple[int, str, str, str, str, str, int, str]] = dataclasses.field(default_factory=list)


def _span(bounds: list[int] | None, first: int, last: int) -> list[int]:
    if bounds is None:
        return [first, last]
    return [min(bounds[0], first), max(bounds[1], last)]


def _collect(items: Iterable[Accepted]) -> _Rows:
    """Merges rows that name the same visitor, visit or page view (a statement may touch a row once)."""
    rows = _Rows()
    for item in items:
        batch, tenant = item.batch, item.tenant_id
        times = [pv.viewed_at_ms for pv in batch.page_views] + [e.occurred_at_ms for e in batch.events]
        first, last = min(times), max(times)
        visitor_key = (tenant, batch.visitor)
        rows.visitors[visitor_key] = _span(rows.visitors.get(visitor_key), first, last)
        visit_key = (tenant, batch.visitor, batch.visit)
        span = rows.visits.get(visit_key)
        rows.visits[visit_key] = [*_span(span[:2] if span else None, first, last), span[2] if span else item.channel_pk]
        for pv in batch.page_views:
            key = (tenant, batch.visitor, batch.visit, pv.public_id)
            seen = rows.page_views.get(key)
            if seen is None:
                rows.page_views[key] = [pv.url, pv.title, pv.referrer, pv.viewed_at_ms, pv.time_on_page_ms]
            else:
                seen[1] = pv.title or seen[1]
                seen[3] = min(seen[3], pv.viewed_at_ms)
                seen[4] = max(seen[4], pv.time_on_page_ms)
        for event in batch.events:
            rows.events.append(
                (
                    tenant,
                    batch.visitor,
                    batch.visit,
                    event.kind,
                    event.name,
                    event.page_view_id,
                    event.occurred_at_ms,
                    event.data_json,
                )
            )
    return rows


def write(items: list[Accepted]) -> int:
    """Writes the batches in one transaction; returns how many page views and events it wrote."""
    if not items:
        return 0
    rows = _collect(items)
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    connection.ensure_connection()
                    _write_postgres(rows)
                else:
                    _write_rowwise(rows)
            break
        except IntegrityError:
            # Perhaps a cached visit is gone (retention cleanup): forget them all and retry once.
            known.clear()
            if attempt == 2:
                raise
    return len(rows.page_views) + len(rows.events)


# --- PostgreSQL: one statement per table ------------------------------------------

TABLES = {
    Visitor: "analytics_visitor",
    Visit: "analytics_visit",
    PageView: "analytics_pageview",
    Event: "analytics_event",
}

_PG_VISITORS = """
INSERT INTO analytics_visitor (tenant_id, public_id, first_seen_at, last_seen_at)
SELECT * FROM unnest(%b::bigint[], %b::text[], %b::timestamptz[], %b::timestamptz[])
ON CONFLICT (tenant_id, public_id) DO UPDATE SET
  first_seen_at = LEAST(analytics_visitor.first_seen_at, EXCLUDED.first_seen_at),
  last_seen_at = GREATEST(analytics_visitor.last_seen_at, EXCLUDED.last_seen_at)
RETURNING id, tenant_id, public_id
"""
_PG_VISITS = """
INSERT INTO analytics_visit (tenant_id, visitor_id, channel_id, public_id, started_at, last_seen_at)
SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::text[], %b::timestamptz[], %b::timestamptz[])
ON CONFLICT (visitor_id, public_id) DO UPDATE SET
  started_at = LEAST(analytics_visit.started_at, EXCLUDED.started_at),
  last_seen_at = GREATEST(analytics_visit.last_seen_at, EXCLUDED.last_seen_at)
RETURNING id, visitor_id, public_id
"""
_PG_PAGE_VIEWS = """
INSERT INTO analytics_pageview (tenant_id, visit_id, public_id, url, title, referrer, viewed_at, time_on_page_ms)
SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[],
                     %b::timestamptz[], %b::integer[])
ON CONFLICT (visit_id, public_id) DO UPDATE SET
  viewed_at = LEAST(analytics_pageview.viewed_at, EXCLUDED.viewed_at),
  time_on_page_ms = GREATEST(analytics_pageview.time_on_page_ms, EXCLUDED.time_on_page_ms),
  title = CASE WHEN EXCLUDED.title <> '' THEN EXCLUDED.title ELSE analytics_pageview.title END
"""
_PG_EVENTS = """
INSERT INTO analytics_event (tenant_id, visit_id, kind, name, page_view_id, occurred_at, data)
SELECT t, v, k, n, p, o, d::jsonb
FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[])
  AS u(t, v, k, n, p, o, d)
"""


class _Known:
    """Visits this process wrote recently, so that most flushes skip the visitor and visit upserts.

    A visit's ``last_seen_at`` (and its visitor's) is refreshed at most every
    ``REFRESH_MS``; the cache is dropped when a write fails on a missing row
    (e.g. after the retention cleanup) and the write is retried once.
    """

    REFRESH_MS = 60_000
    MAX = 200_000

    def __init__(self) -> None:
        self.visits: OrderedDict[tuple[int, str, str], tuple[int, int]] = OrderedDict()
        self.lock = threading.Lock()

    def fresh(self, key: tuple[int, str, str], last_ms: int) -> int | None:
        with self.lock:
            entry = self.visits.get(key)
        if entry is None or last_ms - entry[1] >= self.REFRESH_MS:
            return None
        return entry[0]

    def remember(self, entries: dict[tuple[int, str, str], tuple[int, int]]) -> None:
        with self.lock:
            self.visits.update(entries)
            for key in entries:
                self.visits.move_to_end(key)
            while len(self.visits) > self.MAX:
                self.visits.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.visits.clear()


known = _Known()


def _upsert_visits(cursor: Any, rows: _Rows) -> dict[tuple[int, str, str], int]:
    """Visit ids of the batch: from the cache when fresh, else upserted with their visitors."""
    visit_ids: dict[tuple[int, str, str], int] = {}
    stale = []
    for key, (_first, last, _channel) in rows.visits.items():
        cached = known.fresh(key, last)
        if cached is None:
            stale.append(key)
        else:
            visit_ids[key] = cached
    if not stale:
        return visit_ids
    stale.sort()
    visitor_keys = sorted({key[:2] for key in stale})
    cursor.execute(
        _PG_VISITORS,
        [
            [key[0] for key in visitor_keys],
            [key[1] for key in visitor_keys],
            [_time(rows.visitors[key][0]) for key in visitor_keys],
            [_time(rows.visitors[key][1]) for key in visitor_keys],
        ],
    )
    visitor_ids = {(tenant, public): pk for pk, tenant, public in cursor.fetchall()}
    cursor.execute(
        _PG_VISITS,
        [
            [key[0] for key in stale],
            [visitor_ids[key[:2]] for key in stale],
            [rows.visits[key][2] for key in stale],
            [key[2] for key in stale],
            [_time(rows.visits[key][0]) for key in stale],
            [_time(rows.visits[key][1]) for key in stale],
        ],
    )
    by_visitor = {pk: key for key, pk in visitor_ids.items()}
    written = {(*by_visitor[visitor], public): pk for pk, visitor, public in cursor.fetchall()}
    visit_ids.update(written)
    known.remember({key: (pk, rows.visits[key][1]) for key, pk in written.items()})
    return visit_ids


def _write_postgres(rows: _Rows) -> None:
    # Server-side binding with binary parameters (%b): the arrays go as they are, unquoted.
    with psycopg.Cursor(connection.connection) as cursor:
        visit_ids = _upsert_visits(cursor, rows)
        if rows.page_views:
            keys = sorted(rows.page_views)
            values = [rows.page_views[key] for key in keys]
            cursor.execute(
                _PG_PAGE_VIEWS,
                [
                    [key[0] for key in keys],
                    [visit_ids[key[:3]] for key in keys],
                    [key[3] for key in keys],
                    [value[0] for value in values],
                    [value[1] for value in values],
                    [value[2] for value in values],
                    [_time(value[3]) for value in values],
                    [value[4] for value in values],
                ],
            )
        if rows.events:
            events = rows.events
            cursor.execute(
                _PG_EVENTS,
                [
                    [e[0] for e in events],
                    [visit_ids[(e[0], e[1], e[2])] for e in events],
                    [e[3] for e in events],
                    [e[4] for e in events],
                    [e[5] for e in events],
                    [_time(e[6]) for e in events],
                    [e[7] for e in events],
                ],
            )


# --- SQLite (embedded profile): the same upserts, row by row -----------------------


def _write_rowwise(rows: _Rows) -> None:
    with connection.cursor() as cursor:
        visitor_ids: dict[tuple[int, str], int] = {}
        for visitor_key in sorted(rows.visitors):
            first, last = rows.visitors[visitor_key]
            cursor.execute(
                "INSERT INTO analytics_visitor (tenant_id, public_id, first_seen_at, last_seen_at) "
                "VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (tenant_id, public_id) DO UPDATE SET "
                "first_seen_at = min(first_seen_at, excluded.first_seen_at), "
                "last_seen_at = max(last_seen_at, excluded.last_seen_at) RETURNING id",
                [visitor_key[0], visitor_key[1], _time(first), _time(last)],
            )
            visitor_ids[visitor_key] = cursor.fetchone()[0]
        visit_ids: dict[tuple[int, str, str], int] = {}
        for visit_key in sorted(rows.visits):
            first, last, channel = rows.visits[visit_key]
            cursor.execute(
                "INSERT INTO analytics_visit (tenant_id, visitor_id, channel_id, public_id, started_at, last_seen_at) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (visitor_id, public_id) DO UPDATE SET "
                "started_at = min(started_at, excluded.started_at), "
                "last_seen_at = max(last_seen_at, excluded.last_seen_at) RETURNING id",
                [visit_key[0], visitor_ids[visit_key[:2]], channel, visit_key[2], _time(first), _time(last)],
            )
            visit_ids[visit_key] = cursor.fetchone()[0]
        for view_key in sorted(rows.page_views):
            url, title, referrer, viewed, spent = rows.page_views[view_key]
            cursor.execute(
                "INSERT INTO analytics_pageview (tenant_id, visit_id, public_id, url, title, referrer, viewed_at, "
                "time_on_page_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (visit_id, public_id) DO UPDATE SET viewed_at = min(viewed_at, excluded.viewed_at), "
                "time_on_page_ms = max(time_on_page_ms, excluded.time_on_page_ms), "
                "title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE title END",
                [view_key[0], visit_ids[view_key[:3]], view_key[3], url, title, referrer, _time(viewed), spent],
            )
        cursor.executemany(
            "INSERT INTO analytics_event (tenant_id, visit_id, kind, name, page_view_id, occurred_at, data) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(e[0], visit_ids[(e[0], e[1], e[2])], e[3], e[4], e[5], _time(e[6]), e[7]) for e in rows.events],
        )
