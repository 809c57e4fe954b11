"""`make test` finds its services, and under CI=true a missing one fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "test_services.py"


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"CI", "DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env={**base, **env}, capture_output=True, text=True, timeout=30
    )


def test_unreachable_service_is_skipped_loudly_outside_ci():
    result = _run(DATABASE_URL="postgres://postgres@127.0.0.1:1/parley", REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 0
    assert "PostgreSQL (127.0.0.1:1) is unreachable: tests marked 'postgres' are SKIPPED" in result.stderr
    assert "Redis (127.0.0.1:1) is unreachable: tests marked 'redis' are SKIPPED" in result.stderr
    assert "DATABASE_URL" not in result.stdout


def test_unreachable_service_fails_the_run_under_ci():
    result = _run(CI="true", DATABASE_URL="postgres://postgres@127.0.0.1:1/parley")
    assert result.returncode == 1
    assert "CI=true: every service must be reachable" in result.stderr
    assert result.stdout == ""
