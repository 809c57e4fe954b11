"""The per-process batch writer of ingested analytics (docs/analytics.md, "Durability").

Request handlers ``submit`` validated batches and answer at once; one writer
thread per process collects them and writes everything pending with one
set-based transaction (``analytics.storage``) at least every ``interval``
seconds, sooner when ``max_rows`` are waiting. So an accepted event is in the
database within ``interval`` + one flush (well under 1 s), and the process uses
one database connection for all its analytics writes.

Loss window: an accepted batch lives only in this process's memory until its
flush commits. A crash (SIGKILL, OOM, power loss) in that window loses it; a
clean shutdown (ASGI lifespan shutdown, SIGTERM/SIGINT leading to interpreter
exit) drains the queue first. While the database is unreachable the writer keeps
rows (up to ``max_pending_rows``) and retries with backoff; beyond that limit
``submit`` refuses, and ingestion answers 503 instead of dropping silently.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque

from django.db import DatabaseError, DataError, IntegrityError, close_old_connections, connection

from analytics.storage import Accepted, write
from analytics.validation import Batch

logger = logging.getLogger(__name__)


class BatchWriter:
    def __init__(
        self,
        *,
        interval: float = 0.2,
        max_rows: int = 5000,
        max_pending_rows: int = 200_000,
        background: bool = True,
    ) -> None:
        self.interval = interval
        self.max_rows = max_rows
        self.max_pending_rows = max_pending_rows
        self.background = background
        self._pending: deque[Accepted] = deque()
        self._pending_rows = 0
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._flush_lock = threading.Lock()
        self.written = 0
        self.dropped = 0

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    def submit(self, tenant_id: int, channel_pk: int, batch: Batch) -> bool:
        """Queues the batch for the next flush; False when the queue is full (answer 503)."""
        with self._condition:
            if self._pending_rows + batch.size > self.max_pending_rows:
                return False
            self._pending.append(Accepted(tenant_id, channel_pk, batch))
            self._pending_rows += batch.size
            if self._pending_rows >= self.max_rows:
                self._condition.notify()
        if self.background and self._thread is None:
            self._start()
        return True

    def _start(self) -> None:
        with self._condition:
            if self._thread is not None:
                return
            self._closing = False
            self._thread = threading.Thread(target=self._run, name="parley-analytics-writer", daemon=True)
            self._thread.start()
        atexit.register(self.close)

    def _take(self) -> list[Accepted]:
        with self._condition:
            taken: list[Accepted] = []
            rows = 0
            while self._pending and rows < self.max_rows:
                item = self._pending.popleft()
                rows += item.batch.size
                taken.append(item)
            self._pending_rows -= rows
            return taken

    def _give_back(self, items: list[Accepted]) -> None:
        with self._condition:
            self._pending.extendleft(reversed(items))
            self._pending_rows += sum(item.batch.size for item in items)

    def flush(self) -> int:
        """Writes everything pending now, in the calling thread; returns rows written.

        Raises the database error when the database is unreachable (the rows stay queued).
        """
        total = 0
        with self._flush_lock:
            while True:
                items = self._take()
                if not items:
                    return total
                try:
                    written = write(items)
                except (DataError, IntegrityError):
                    written = self._write_one_by_one(items)
                except DatabaseError:
                    self._give_back(items)
                    raise
                self.written += written
                total += written

    def _write_one_by_one(self, items: list[Accepted]) -> int:
        """A batch that fails on its data is written request by request; only the bad one is dropped."""
        written = 0
        for item in items:
            try:
                written += write([item])
            except (DataError, IntegrityError):
                self.dropped += item.batch.size
                logger.exception("analytics batch of tenant %s dropped: the database refused it", item.tenant_id)
        return written

    def _run(self) -> None:
        backoff = self.interval
        while True:
            with self._condition:
                if not self._closing and self._pending_rows < self.max_rows:
                    self._condition.wait(timeout=self.interval)
                closing = self._closing
            try:
                close_old_connections()
                self.flush()
                backoff = self.interval
            except DatabaseError:
                logger.warning("analytics flush failed; %s rows kept, retrying", self._pending_rows, exc_info=True)
                connection.close()
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                if closing and backoff >= 5.0:
                    logger.error("analytics writer stopping with %s rows unwritten", self._pending_rows)
                    return
                continue
            finally:
                connection.close()  # back to the pool between flushes
            if closing:
                return

    def close(self, timeout: float = 10.0) -> None:
        """Clean shutdown: stops accepting the wait, writes everything pending, stops the thread."""
        thread = self._thread
        if thread is None:
            if self._pending:
                self.flush()
            return
        with self._condition:
            self._closing = True
            self._condition.notify()
        thread.join(timeout)
        with self._condition:
            self._thread = None
