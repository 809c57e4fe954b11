"""ASGI entry point: HTTP through Django, WebSockets through Channels routes.

WebSocket routes live in ``chat/routing.py`` (visitor gateway, agent console;
only the console's routes go through Django's session and auth middleware).
The lifespan (uvicorn's; daphne has none) runs the gateway's listener for
channel changes from startup to shutdown, starts the render processes
(engage.lib.processes) and writes the analytics' last batches at shutdown.
"""

import asyncio
import gc
import logging
import math
import os
import random
import threading
import time
from typing import Any, cast

import django
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engage.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does

from engage.lib.asgi import ASGIHandler  # noqa: E402

django_asgi_app = ASGIHandler()  # Django's, without the reference cycles it leaves per request

from channels.routing import ProtocolTypeRouter  # noqa: E402

from analytics.ingest import ASGIApp, Receive, Scope, Send  # noqa: E402
from analytics.ingest import lifespan as analytics_lifespan  # noqa: E402
from analytics.ingest import mount as analytics_mount  # noqa: E402
from chat.gateway.sessions import channels_changed_listen  # noqa: E402
from chat.routing import websocket_application  # noqa: E402
from engage.lib import loops, processes  # noqa: E402


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    """The analytics' lifespan, with the gateway's channel-change listener running from the
    startup message until the shutdown message (then cancelled, before the analytics' writes)."""
    listener: asyncio.Task[None] | None = None

    async def receive_and_follow() -> dict[str, Any]:
        nonlocal listener
        message = await receive()
        if message["type"] == "lifespan.startup" and listener is None:
            listener = loops.start(channels_changed_listen())
            loops.start(processes.warm_all())  # in the background: startup does not wait for it
        elif message["type"] == "lifespan.shutdown" and listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)  # its end, whatever it was
            processes.shutdown_all()
        return message

    await analytics_lifespan(scope, receive_and_follow, send)


application = ProtocolTypeRouter(
    {
        # /analytics/1.0/… (the hottest path) is answered by a lean ASGI app before Django.
        # Django's handler sends only dicts, though its stub asks for a ``send`` that takes any Mapping.
        "http": analytics_mount(cast(ASGIApp, django_asgi_app)),
        "lifespan": lifespan,
        "websocket": websocket_application,
    }
)


def _tune_garbage_collector(threshold: str) -> None:
    """A long-lived server: startup's objects (Django, the apps, the libraries) are left out of
    the cyclic collector's passes (``gc.freeze``).

    ``PARLEY_GC_THRESHOLD``: ``gc.set_threshold``'s three numbers, or ``default`` to keep
    Python's (700, 10, 10). Young collections stay small and frequent (700 and 10): with 10 000
    new objects between them, the next generation's collections took 50 to 110 ms each under load.
    """
    _collect_and_freeze()
    if threshold != "default":
        gc.set_threshold(*(int(part) for part in threshold.split(",")))


def _collected() -> int | None:
    """``gc.collect()``: the number of objects it freed, or None when another thread's collection
    was under way (Python then collects nothing)."""
    full = gc.get_stats()[2]["collections"]
    freed = gc.collect()
    return None if gc.get_stats()[2]["collections"] == full else freed


def _collect_and_freeze() -> int | None:
    """A collection of the whole heap, what it keeps frozen; the number of objects it freed, or
    None when another thread's collection was under way."""
    gc.unfreeze()
    freed = _collected()
    gc.freeze()
    if freed is None:
        return None
    # An empty collection now: Python runs a full collection only once the old generation has
    # grown by a quarter of what the last one kept, and what it kept is not in the old generation
    # any more. Without this, the next full collection would wait for a quarter of the heap.
    gc.collect()
    return freed


class FreezeSurvivors:
    """A ``gc.callbacks`` hook: what survives a full collection is frozen out of the next ones,
    and about every ``sweep_seconds`` a collection walks the whole heap again.

    A full collection walks every object of the old generation, and a gateway's old generation
    is its sockets' state: about 160 objects a socket, 235 ms of CPU for 1 400 sockets on the
    bench's machine, seconds for 15 000. Every socket of the process waits that long, and Python
    runs one whenever the old generation has grown by a quarter (docs/performance.md, "Eleventh
    session: full collections, frozen survivors"). Frozen after the collection that found them
    alive, long-lived objects are walked once: a full collection walks what the young
    generations handed over since the last one. Reference counting still frees a frozen object
    the moment nothing refers to it; only what frozen objects leave in reference cycles waits
    for the next sweep, which a thread of the process runs (started again in a forked child).
    The first sweep comes after a random half to one and a half periods, so that processes
    started together do not pause together. ``PARLEY_GC_SWEEP_SECONDS`` (default 3600, at least
    60; ``off`` freezes nothing after startup, Python's own way).
    """

    def __init__(self, sweep_seconds: float) -> None:
        self.sweep_seconds = sweep_seconds
        self.sweeps: list[int] = []  # objects each sweep freed
        self.stopped = threading.Event()
        self.sweeper = self._new_sweeper()

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        # A process reading its garbage (gc.DEBUG_SAVEALL keeps it in gc.garbage) keeps it readable.
        if phase == "stop" and info["generation"] == 2 and not gc.get_debug() & gc.DEBUG_SAVEALL:
            gc.freeze()

    def start(self) -> None:
        gc.callbacks.insert(0, self)
        self.sweeper.start()
        os.register_at_fork(after_in_child=self._after_fork)

    def stop(self) -> None:
        self.stopped.set()
        gc.callbacks[:] = [hook for hook in gc.callbacks if hook is not self]

    def sweep(self) -> None:
        """Sweeps once, as soon as no other thread's collection is under way."""
        freed = _collect_and_freeze()
        while freed is None and not self.stopped.wait(0.01):
            freed = _collect_and_freeze()
        if freed is None:
            return
        self.sweeps.append(freed)
        if freed:
            logging.getLogger("parley.gc").info("the sweep of the whole heap freed %d objects", freed)

    def _new_sweeper(self) -> threading.Thread:
        return threading.Thread(target=self._sweep_every, name="parley-gc-sweep", daemon=True)

    def _after_fork(self) -> None:
        if not self.stopped.is_set():  # a fork keeps the hook, not the thread
            self.sweeper = self._new_sweeper()
            self.sweeper.start()

    def _sweep_every(self) -> None:
        wait = self.sweep_seconds * random.uniform(0.5, 1.5)
        while not self.stopped.wait(wait):
            self.sweep()
            wait = self.sweep_seconds


def sweep_period(text: str) -> float | None:
    """``PARLEY_GC_SWEEP_SECONDS``: None for ``off``, else seconds, at least a minute."""
    if text.strip().lower() == "off":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 60 <= seconds <= 366 * 86400:
        raise ImproperlyConfigured(
            f"PARLEY_GC_SWEEP_SECONDS must be a number of seconds from 60 to 31622400, or off; got {text!r}."
        )
    return seconds


def _freeze_survivors(sweep_seconds: float | None) -> FreezeSurvivors | None:
    for hook in [hook for hook in gc.callbacks if isinstance(hook, FreezeSurvivors)]:
        hook.stop()
    if sweep_seconds is None:
        return None
    hook = FreezeSurvivors(sweep_seconds)
    hook.start()
    return hook


class CollectorPauses:
    """A ``gc.callbacks`` hook that logs, at WARNING on ``parley.gc``, every collection that paused
    the process for at least ``threshold_ms``: the whole event loop, every socket of the process,
    waits for the collector. ``PARLEY_GC_PAUSE_LOG_MS`` (default 50, ``off`` for none)."""

    logger = logging.getLogger("parley.gc")

    def __init__(self, threshold_ms: float) -> None:
        self.threshold = threshold_ms / 1000
        self.started = self.started_cpu = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started, self.started_cpu = time.perf_counter(), time.thread_time()
            return
        paused = time.perf_counter() - self.started
        if paused >= self.threshold:
            # The collector's own CPU time beside the pause: a pause much longer than it is the
            # process waiting for a CPU (other processes on a busy machine), not a long collection.
            self.logger.warning(
                "collection of generation %d paused the process for %.1f ms (%.1f ms of CPU, %d objects freed)",
                info["generation"],
                paused * 1000,
                (time.thread_time() - self.started_cpu) * 1000,
                info["collected"],
            )


def _watch_garbage_collector(threshold_ms: str) -> None:
    gc.callbacks[:] = [hook for hook in gc.callbacks if not isinstance(hook, CollectorPauses)]
    if threshold_ms != "off":
        gc.callbacks.append(CollectorPauses(float(threshold_ms)))


_tune_garbage_collector(os.environ.get("PARLEY_GC_THRESHOLD") or "700,10,10")
_freeze_survivors(sweep_period(os.environ.get("PARLEY_GC_SWEEP_SECONDS") or "3600"))
_watch_garbage_collector(os.environ.get("PARLEY_GC_PAUSE_LOG_MS") or "50")
