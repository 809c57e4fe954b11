"""Handing work from a worker thread to the ASGI server's event loop without waiting for it.

Database work of a socket runs in worker threads (``sync_to_async``). When it
publishes a realtime event, ``async_to_sync`` would block the worker until the
event loop has run the send: two thread switches and a wait per event, about
a tenth of the gateway's CPU per message (docs/performance.md). A worker
started by ``sync_to_async`` knows the loop that started it; ``run_soon``
schedules the coroutine there and returns at once. Callbacks scheduled from
one thread run in the order they were scheduled, so events keep their order.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync

logger = logging.getLogger(__name__)

# Tasks keep a reference here until done: the loop holds only weak references to them.
_running: set[asyncio.Task[Any]] = set()


def in_event_loop() -> bool:
    """Whether this code runs in an event loop (a coroutine or a callback of a running loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop that started this worker thread, if this is such a thread."""
    local = SyncToAsync.threadlocal
    loop = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    if loop.is_closed() or not loop.is_running() or in_event_loop():
        return None  # gone, or this thread runs a loop itself: not a plain worker
    return loop


def _done(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("background task failed", exc_info=task.exception())


def start(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Runs ``coroutine`` in a task of the running loop that nobody awaits: kept referenced until
    it is done (the loop keeps only weak references to its tasks), its failure logged."""
    task = asyncio.get_running_loop().create_task(coroutine)
    _running.add(task)
    task.add_done_callback(_done)
    return task


def running() -> int:
    """How many tasks ``start`` has running."""
    return len(_running)


def _start(factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    start(factory())


def run_soon(factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    """Runs ``factory()`` on the server's loop without waiting, from one of its worker threads
    or from the loop itself; elsewhere (a management command, a Celery task, a test) runs it to completion now."""
    if in_event_loop():
        _start(factory)
        return
    loop = _server_loop()
    if loop is None:

        async def complete() -> None:
            await factory()

        async_to_sync(complete)()
        return
    loop.call_soon_threadsafe(_start, factory)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The event loop Parley runs under uvicorn (``--loop engage.lib.loops:new_event_loop``).

    uvloop when it is installed, with libuv's io_uring switched off
    (``UV_USE_IO_URING=0`` unless set otherwise): libuv's io_uring submission
    thread busy-polls, and under load it took most of a CPU beside the loop's own
    and multiplied the gateway's p99 (docs/performance.md, "Visitor gateway").
    libuv reads the variable when it makes its first loop, so it is set here,
    before. Plain asyncio without uvloop.
    """
    os.environ.setdefault("UV_USE_IO_URING", "0")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in requirements.txt
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
