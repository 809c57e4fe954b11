"""Which tenant an ingestion request writes to: from brandId + channelId, cached.

The hot path must not query the database per request, so each process keeps
the answer (also "no such channel") for ``ttl`` seconds; a channel disabled in
admin stops accepting analytics within that time. Lookups run on a small
dedicated thread pool, which bounds the database connections they use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections, connection

from engage.models import Channel

LOOKUP_THREADS = 2


@dataclasses.dataclass(frozen=True, slots=True)
class ChannelInfo:
    tenant_id: int
    channel_pk: int
    allowed_origins: frozenset[str]

    def allows(self, origin: str | None) -> bool:
        return not self.allowed_origins or origin is None or origin.rstrip("/") in self.allowed_origins


def channel_lookup(brand_id: int, channel_id: str) -> ChannelInfo | None:
    """The active channel of an active tenant with these public ids, or None."""
    row = (
        Channel.objects.filter(
            brand__brand_id=brand_id,
            channel_id=channel_id,
            status=Channel.Status.ACTIVE,
            tenant__is_active=True,
        )
        .values_list("tenant_id", "pk", "allowed_origins")
        .first()
    )
    if row is None:
        return None
    origins = row[2] if isinstance(row[2], list) else []
    return ChannelInfo(row[0], row[1], frozenset(str(o).rstrip("/") for o in origins))


class ChannelCache:
    def __init__(self, *, ttl: float = 30.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[int, str], tuple[float, ChannelInfo | None]] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _lookup_in_thread(self, brand_id: int, channel_id: str) -> ChannelInfo | None:
        close_old_connections()
        try:
            return channel_lookup(brand_id, channel_id)
        finally:
            connection.close()  # back to the pool: this thread holds no connection between lookups

    async def resolve(self, brand_id: int, channel_id: str) -> ChannelInfo | None:
        key = (brand_id, channel_id)
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return entry[1]
        if self._executor is None:
            with self._lock:
                self._executor = self._executor or ThreadPoolExecutor(LOOKUP_THREADS, "parley-analytics-lookup")
        loop = asyncio.get_running_loop()
        info = await loop.run_in_executor(self._executor, self._lookup_in_thread, brand_id, channel_id)
        self._entries[key] = (time.monotonic() + self.ttl, info)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return info

    def clear(self) -> None:
        self._entries.clear()
