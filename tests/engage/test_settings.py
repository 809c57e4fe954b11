"""The settings module: insecure defaults refused, deploy checks clean, pooled connections."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env() -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": "s" * 20 + "e3cR3t-kEy-for-tests-only-0123456789abcdefgh",
        "PARLEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "parley.example",
        "PARLEY_PUBLIC_URL": "https://parley.example",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/parley",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }


def test_debug_off_refuses_to_start_on_insecure_defaults():
    result = _manage("check", env={"DEBUG": "false"})
    assert result.returncode == 1
    assert "Refusing to start with DEBUG off" in result.stderr
    for problem in ("SECRET_KEY", "PARLEY_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "PARLEY_PUBLIC_URL"):
        assert problem in result.stderr


def test_check_deploy_is_clean_with_a_production_environment():
    result = _manage("check", "--deploy", "--fail-level", "DEBUG", env=production_env())
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_postgres_uses_the_connection_pool_without_persistent_connections():
    if not settings.IS_POSTGRES:
        pytest.skip("pool settings apply to PostgreSQL only")
    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"]["max_size"] == 16


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _connections(application_name: str) -> int:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        ).fetchone()
        return int(row[0])


@pytest.mark.postgres
@pytest.mark.slow
def test_32_concurrent_clients_stay_within_the_pool_under_daphne(db):
    """Regression: persistent connections under ASGI once exhausted PostgreSQL within 12 s."""
    from django.db import connection

    database_name = connection.settings_dict["NAME"]
    port = _free_port()
    app_name = f"parley-pool-test-{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database_name}?application_name={app_name}",
        "DATABASE_POOL_MAX": "4",
        "DATABASE_POOL_MIN": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "engage.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=1).status_code in {200, 503}:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        statuses: list[int] = []
        peak = 0

        async def client(session: httpx.AsyncClient) -> None:
            for _ in range(20):
                statuses.append((await session.get(url)).status_code)

        async def load() -> None:
            nonlocal peak
            async with httpx.AsyncClient(timeout=30) as session:
                tasks = [asyncio.create_task(client(session)) for _ in range(32)]
                while not all(task.done() for task in tasks):
                    peak = max(peak, await asyncio.to_thread(_connections, app_name))
                    await asyncio.sleep(0.1)
                await asyncio.gather(*tasks)

        asyncio.run(load())
        assert statuses == [200] * (32 * 20)
        assert 1 <= peak <= 4
    finally:
        server.terminate()
        server.wait(timeout=20)
