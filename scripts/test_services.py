"""Finds PostgreSQL and Redis for the test suite and prints the environment to use.

Prints ``export NAME=value`` lines for the shell. Each service is looked for at
``DATABASE_URL`` / ``REDIS_URL`` when set, else on its standard port on
127.0.0.1. When one is unreachable it says so loudly on stderr: the tests that
need it are skipped, except under ``CI=true``, where it fails the run (exit 1).
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

DEFAULTS = {
    "DATABASE_URL": ("PostgreSQL", "postgres://postgres@127.0.0.1:5432/parley", "postgres"),
    "REDIS_URL": ("Redis", "redis://127.0.0.1:6379/0", "redis"),
}


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1.5):
            return True
    except OSError:
        return False


def main() -> int:
    ci = os.environ.get("CI", "").lower() == "true"
    exports: dict[str, str] = {}
    missing: list[str] = []
    for name, (label, default, marker) in DEFAULTS.items():
        url = os.environ.get(name) or default
        if reachable(url):
            exports[name] = url
        else:
            where = urlsplit(url).netloc.rsplit("@", 1)[-1]
            missing.append(f"{label} ({where}) is unreachable: tests marked '{marker}' are SKIPPED")
    for line in missing:
        print(f"\n!!! {line}\n", file=sys.stderr)
    if missing and ci:
        print("!!! CI=true: every service must be reachable; failing the run.", file=sys.stderr)
        return 1
    for name, value in exports.items():
        print(f"export {name}={value}")
    # Tasks run eagerly unless a test starts a real worker.
    print("export CELERY_TASK_ALWAYS_EAGER=true")
    return 0


if __name__ == "__main__":
    sys.exit(main())
