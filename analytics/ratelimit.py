"""Rate limits per visitor and per IP, shared across processes through the Django cache.

Counting is fixed-window (``window`` seconds). Asking the cache on every request
would cost a network round trip on the hottest path, so each process counts
locally and a background thread pushes its increments to the cache every
``sync_interval`` seconds (one pipelined round trip on Redis) and learns the
windows' totals across all processes in return. A decision is
``known total + local increments since the last sync < limit``: exact within
one process; across N processes a key can overshoot its limit by at most what
the other processes admitted since their last sync. See docs/analytics.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)


class _Counter:
    __slots__ = ("known", "limit", "pending")

    def __init__(self, limit: int) -> None:
        self.known = 0
        self.pending = 0
        self.limit = limit

    def worth_refreshing(self) -> bool:
        """Keys with no local hits are re-read only once they are halfway to their limit."""
        return self.pending > 0 or 2 * self.known >= self.limit


class RateLimiter:
    def __init__(
        self,
        *,
        window: int = 60,
        sync_interval: float = 0.1,
        cache_alias: str = "default",
        prefix: str = "parley:analytics:rl",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window = window
        self.sync_interval = sync_interval
        self.cache_alias = cache_alias
        self.prefix = prefix
        self.clock = clock
        self._counters: dict[str, _Counter] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _key(self, scope: str, ident: str) -> str:
        return f"{self.prefix}:{scope}:{ident}:{int(self.clock() // self.window)}"

    def hit(self, scope: str, ident: str, limit: int) -> bool:
        """Counts one request for ``ident``; False (counting nothing) when it is over ``limit``."""
        key = self._key(scope, ident)
        with self._lock:
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = _Counter(limit)
            if counter.known + counter.pending >= limit:
                return False
            counter.pending += 1
        self._ensure_thread()
        return True

    def retry_after(self) -> int:
        return max(1, int(self.window - self.clock() % self.window))

    # --- sharing through the cache -------------------------------------------

    def sync(self) -> None:
        """Pushes local increments to the cache and learns the windows' totals (all processes)."""
        current = int(self.clock() // self.window)
        with self._lock:
            for key in [k for k in self._counters if int(k.rsplit(":", 1)[1]) < current]:
                if not self._counters[key].pending:
                    del self._counters[key]
            pushes = {key: c.pending for key, c in self._counters.items() if c.worth_refreshing()}
        if not pushes:
            return
        try:
            totals = self._push(pushes)
        except Exception:  # the cache is down: keep counting locally, retry next time
            logger.warning("rate-limit sync failed; counting locally", exc_info=True)
            return
        with self._lock:
            for key, pushed in pushes.items():
                counter = self._counters.get(key)
                if counter is None:
                    continue
                counter.pending -= pushed
                counter.known = max(counter.known, totals[key])
                if int(key.rsplit(":", 1)[1]) < current and not counter.pending:
                    del self._counters[key]

    def _push(self, pushes: dict[str, int]) -> dict[str, int]:
        cache = caches[self.cache_alias]
        timeout = self.window * 2
        if isinstance(cache, RedisCache):
            client = cache._cache.get_client(write=True)
            pipe = client.pipeline(transaction=False)
            names = {key: cache.make_and_validate_key(key) for key in pushes}
            for key, count in pushes.items():
                pipe.incrby(names[key], count)
                pipe.expire(names[key], timeout)
            results = pipe.execute()
            return {key: int(results[2 * index]) for index, key in enumerate(pushes)}
        totals = {}
        for key, count in pushes.items():
            cache.add(key, 0, timeout)
            totals[key] = int(cache.incr(key, count)) if count else int(cache.get(key, 0))
        return totals

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="parley-ratelimit-sync", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.sync_interval):
            self.sync()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.sync()
