"""What Parley's WebSocket consumers share: a database worker pool and a leaner dispatch."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.sessions import InstanceSessionWrapper
from django.conf import settings
from django.core.exceptions import SynchronousOnlyOperation

logger = logging.getLogger(__name__)

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
        name = _HANDLER_NAMES.get(message["type"])
        if name is None:
            name = get_handler_name(message)  # refuses a private name, which is then not kept
            if len(_HANDLER_NAMES) < 256:
                _HANDLER_NAMES[message["type"]] = name
        handler = getattr(self, name, None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


# Message types' handler names (Channels' ``get_handler_name``), worked out once each; at most 256
# types are kept, whatever senders put in a channel-layer message's type.
_HANDLER_NAMES: dict[str, str] = {}


def _past_session_wrapper(send: Any) -> Any:
    """``send`` without Channels' session wrapper when it saves on no WebSocket message: it saves a
    changed session on an HTTP response only, yet checked the lazy session on every frame a socket
    sent (docs/performance.md, "Eighth session")."""
    wrapper = getattr(send, "__self__", None)
    if isinstance(wrapper, InstanceSessionWrapper) and not any(
        kind.startswith("websocket.") for kind in wrapper.save_message_types
    ):
        return wrapper.real_send
    return send


class _Turn:
    """The consumer's handlers one at a time, in the order they asked: ``asyncio.Lock``'s job for
    the pumps of one socket in a third of its calls (its uncontended acquire and release were seven
    Python calls a frame). While one handler runs, the others wait in a queue; when it is done the
    turn goes to the first still waiting, or is free."""

    __slots__ = ("held", "waiters")

    def __init__(self) -> None:
        self.held = False
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def wait(self) -> None:
        """Waits for the turn (it is held): returns holding it."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # given the turn, then cancelled: pass it on
                self.give()
            raise

    def give(self) -> None:
        """Hands the turn to the first handler still waiting, or frees it."""
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the turn stays held: it is theirs
                return
        self.held = False


class PumpedConsumerMixin:
    """Channels' consumer loop without a task and an ``asyncio.wait`` per message.

    Channels' ``await_many_dispatch`` waits on the client and the channel layer
    with ``asyncio.wait`` and makes a new task after every message: a good part
    of a small frame's cost (docs/performance.md). Here one task per source reads
    and dispatches for the whole connection; a lock keeps the consumer's rule that
    handlers run one at a time, and each source's messages stay in their order.
    A handler's ``StopConsumer`` ends the connection as in Channels; any other
    exception ends it too, and propagates to the server.
    """

    channel_prefix = "specific."  # of the consumer's channel name: the layer's capacity may depend on it
    # Set by a consumer that has as much work in flight as it takes: while it is set and not done,
    # the client's frames wait to be handled (the first one read, the rest in the server, which
    # stops reading the socket), outside the turn, so channel-layer messages go on being handled.
    # A disconnect read at the gate does not wait; however the connection ends, the consumer leaves
    # its groups and its ``disconnect`` runs (``_leave``).
    read_gate: asyncio.Future[None] | None = None
    left = False  # the client's disconnect was handled

    async def _past_read_gate(self) -> None:
        """Returns once no gate is set, or the one set is done. Waited for, not awaited: cancelling
        the waiting pump (the socket closing) leaves the consumer's future to the consumer."""
        while (gate := self.read_gate) is not None and not gate.done():
            await asyncio.wait([gate])

    async def send_text(self, text: str) -> None:
        """``send(text_data=text)`` in one call: the frame straight to the server."""
        await self.base_send({"type": "websocket.send", "text": text})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)  # type: ignore[attr-defined]
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel(self.channel_prefix)
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        self.base_send = _past_session_wrapper(send)
        turn = _Turn()

        async def pump(source: Any) -> None:
            gated = source is receive
            while True:
                message = await source()
                if gated and self.read_gate is not None and message["type"] == "websocket.receive":
                    await self._past_read_gate()
                if turn.held:
                    await turn.wait()
                else:
                    turn.held = True
                try:
                    await self.dispatch(message)  # type: ignore[attr-defined]
                finally:
                    turn.give()

        tasks = [asyncio.ensure_future(pump(source)) for source in sources]
        raised: BaseException | None = None
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if error is not None and not isinstance(error, StopConsumer):
                    raised = error
                    raise error
        finally:
            for task in tasks:
                task.cancel()
            # Waited for, not awaited: awaiting a pump re-raises its StopConsumer or CancelledError
            # here, and the traceback, which holds this frame and so the tasks that hold the
            # exception, made every closed socket a reference cycle: garbage only the collector's
            # full passes free, which pause the whole process (docs/performance.md).
            await asyncio.wait(tasks)
            for task in tasks:
                late = None if task.cancelled() else task.exception()
                if late is not None and late is not raised and not isinstance(late, StopConsumer):
                    logger.error("A handler failed while its socket closed", exc_info=late)
            if not self.left:
                await self._leave()

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        self.left = True
        await super().websocket_disconnect(message)  # type: ignore[misc]

    async def _leave(self) -> None:
        """What the client's disconnect does (leave the groups, ``disconnect``), for a connection
        that ended without one being handled: a handler failed (a push to a client that had just
        gone), or the server stopped the application while a frame waited at the read gate."""
        try:
            await self.websocket_disconnect({"type": "websocket.disconnect", "code": 1006})
        except StopConsumer:
            pass
        except Exception:
            logger.exception("A socket's consumer failed to leave its groups")
