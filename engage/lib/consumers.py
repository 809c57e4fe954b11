"""What Parley's WebSocket consumers share."""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name


class WorkerDatabaseMixin:
    """Dispatch without Channels' per-message ``close_old_connections``.

    Channels runs ``close_old_connections`` on its one thread-sensitive thread
    before every message a consumer handles: a thread switch per frame and per
    push, even when the handler reads nothing (docs/performance.md). A consumer
    with this mixin does all its database work through
    ``database_sync_to_async``, which closes unusable and expired connections
    around each call in the thread that uses them, so the extra hop does nothing.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
