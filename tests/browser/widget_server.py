"""A real Parley ASGI server on 127.0.0.1 (free port) for the widget's browser tests.

It serves HTTP through a fresh Django handler (so that static files come from the
finders, as under ``make run``) and WebSockets through the project's routes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def application():  # type: ignore[no-untyped-def]
    from channels.routing import ProtocolTypeRouter

    from engage.asgi import application as project
    from engage.lib.asgi import ASGIHandler  # Django's, as production serves HTTP

    return ProtocolTypeRouter({"http": ASGIHandler(), "websocket": project.application_mapping["websocket"]})


@contextmanager
def serving() -> Iterator[str]:
    """Runs uvicorn in a thread on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    _analytics_drain()  # a fresh ingestion: no channel answers cached from an earlier test
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        application(), log_level="warning", lifespan="off", ws="websockets-sansio", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, name="widget-test-server", daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        _analytics_drain()
        _settle_database()


def _analytics_drain() -> None:
    """Writes what the page's analytics left pending and forgets the process's ingestion
    (its channel cache holds ids of this test's tenants, which the flush removes)."""
    from analytics import ingest

    current = ingest._default
    ingest.set_default(None)
    if current is not None:
        current.writer.close()


def _settle_database() -> None:
    """Waits for requests the stopped server still runs in worker threads (a page's last
    beacon, a socket's disconnect), then ends any that hold locks, so that the test
    database can be flushed. PostgreSQL only; other databases have nothing to settle."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    busy = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
    )
    with connection.cursor() as cursor:
        for _ in range(50):
            cursor.execute(busy)
            if not cursor.fetchall():
                return
            threading.Event().wait(0.1)
        cursor.execute(f"SELECT pg_terminate_backend(pid) FROM ({busy}) AS stuck")
