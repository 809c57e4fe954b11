"""What Parley's WebSocket consumers share: a database worker pool and a leaner dispatch."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import SynchronousOnlyOperation

# One pool per process, sized like the database connection pool so no worker waits for a connection.
WORKERS = ThreadPoolExecutor(
    max_workers=int(getattr(settings, "PARLEY_GATEWAY_WORKERS", 0) or os.environ.get("DATABASE_POOL_MAX", "16")),
    thread_name_prefix="socket-db",
)


def in_worker(function: Any) -> Any:
    """Runs ``function`` in the shared worker pool, cleaning database connections around it.

    Not thread-sensitive: Channels' default (``database_sync_to_async``) runs
    every socket's database work, and Django's sync views, on one process-wide
    thread, one at a time; one busy socket then stalls every other one.
    Socket handlers keep no connection state between calls (each service
    commits its own transaction), so any pool thread will do.
    """
    return database_sync_to_async(function, thread_sensitive=False, executor=WORKERS)


async def in_loop_or_worker(function: Any, *args: Any) -> Any:
    """Runs ``function(*args)`` in the event loop when it needs no database (no thread
    switch), else again in the worker pool: Django refuses a query in the loop before
    sending it (``SynchronousOnlyOperation``), so the first try has no effect to undo
    as long as ``function`` changes nothing before its first query."""
    try:
        return function(*args)
    except SynchronousOnlyOperation:
        return await in_worker(function)(*args)


class WorkerDatabaseMixin:
    """Dispatch without Channels' per-message ``close_old_connections``.

    Channels runs ``close_old_connections`` on its one thread-sensitive thread
    before every message a consumer handles: a thread switch per frame and per
    push, even when the handler reads nothing (docs/performance.md). A consumer
    with this mixin does all its database work through ``in_worker`` (or
    ``database_sync_to_async``), which closes unusable and expired connections
    around each call in the thread that uses them, so the extra hop does nothing.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
