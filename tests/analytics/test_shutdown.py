"""A clean shutdown writes every accepted batch (docs/analytics.md, "Durability").

Runs the real ASGI servers Parley ships with in a subprocess, against the test
database: accepted page views are still in memory (the flush interval is 1 s)
when the server gets SIGTERM, and must be in the database once it has exited.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

from analytics.models import PageView
from tests.analytics.conftest import body, events_url, page_view

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("the subprocess shares the test database on PostgreSQL only")
    return (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )


@pytest.mark.postgres
@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
def test_sigterm_writes_every_accepted_page_view(acme, server) -> None:
    port = _free_port()
    command = {
        "uvicorn": [
            sys.executable,
            "-m",
            "uvicorn",
            "engage.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--lifespan",
            "on",
        ],
        "daphne": [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "-v",
            "0",
            "engage.asgi:application",
        ],
    }[server]
    env = {**os.environ, "DATABASE_URL": _database_url(), "PARLEY_ANALYTICS_FLUSH_INTERVAL": "1", "DEBUG": "true"}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        now_ms = int(time.time() * 1000)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for index in range(20):
                content = body(page_view(f"pv-{index:06d}", at=now_ms - 10), sent_at=now_ms)
                assert client.post(events_url(), content=content).status_code == 202
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)  # uvicorn re-raises the signal after its graceful shutdown
    finally:
        if process.poll() is None:
            process.kill()
    assert PageView.objects.filter(tenant=acme.tenant).count() == 20
