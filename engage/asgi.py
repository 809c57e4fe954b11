"""ASGI entry point: HTTP through Django, WebSockets through Channels routes.

WebSocket routes live in ``chat/routing.py`` (visitor gateway, agent console;
only the console's routes go through Django's session and auth middleware).
"""

import gc
import logging
import os
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engage.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does

from engage.lib.asgi import ASGIHandler  # noqa: E402

django_asgi_app = ASGIHandler()  # Django's, without the reference cycles it leaves per request

from channels.routing import ProtocolTypeRouter  # noqa: E402

from analytics.ingest import lifespan as analytics_lifespan  # noqa: E402
from analytics.ingest import mount as analytics_mount  # noqa: E402
from chat.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        # /analytics/1.0/… (the hottest path) is answered by a lean ASGI app before Django.
        "http": analytics_mount(django_asgi_app),
        "lifespan": analytics_lifespan,
        "websocket": websocket_application,
    }
)


def _tune_garbage_collector(threshold: str) -> None:
    """A long-lived server: startup's objects (Django, the apps, the libraries) are left out of
    the cyclic collector's passes (``gc.freeze``), and full collections run ten times less often.

    With Python's defaults a full collection of a process holding 2 000 sockets took 80 to 400 ms,
    which was the gateway's p99 at 250 msg/s (docs/performance.md, "Visitor gateway"). Young
    collections stay small and frequent (Python's 700 and 10): with 10 000 new objects between
    them, the next generation's collections took 50 to 110 ms each under load.
    ``PARLEY_GC_THRESHOLD``: ``gc.set_threshold``'s three numbers, or ``default`` to keep
    Python's (700, 10, 10).
    """
    gc.collect()
    gc.freeze()
    if threshold != "default":
        gc.set_threshold(*(int(part) for part in threshold.split(",")))


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


_tune_garbage_collector(os.environ.get("PARLEY_GC_THRESHOLD") or "700,10,100")
_watch_garbage_collector(os.environ.get("PARLEY_GC_PAUSE_LOG_MS") or "50")
