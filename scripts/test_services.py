"""Finds PostgreSQL and Redis for the test suite and prints the environment to use.

Prints ``export NAME=value`` lines for the shell. When a service is unreachable
it says so loudly on stderr: the tests that need it are skipped, except under
``CI=true``, where an unreachable service fails the run (exit 1).
"""

from __future__ import annotations

import os
import socket
import sys


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.5):
            return True
    except OSError:
        return False


def main() -> int:
    ci = os.environ.get("CI", "").lower() == "true"
    exports: dict[str, str] = {}
    missing: list[str] = []
    if os.environ.get("DATABASE_URL"):
        exports["DATABASE_URL"] = os.environ["DATABASE_URL"]
    elif reachable("127.0.0.1", 5432):
        exports["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/parley"
    else:
        missing.append("PostgreSQL (127.0.0.1:5432): tests marked 'postgres' are SKIPPED, the rest run on SQLite")
    if os.environ.get("REDIS_URL"):
        exports["REDIS_URL"] = os.environ["REDIS_URL"]
    elif reachable("127.0.0.1", 6379):
        exports["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    else:
        missing.append("Redis (127.0.0.1:6379): tests marked 'redis' are SKIPPED")
    for line in missing:
        print(f"\n!!! {'MISSING' if ci else 'SKIPPING'}: {line}\n", file=sys.stderr)
    if missing and ci:
        print("!!! CI=true: every service must be reachable.", file=sys.stderr)
        return 1
    for name, value in exports.items():
        print(f"export {name}={value}")
    # Tasks run eagerly unless a test starts a real worker (tests/delivery).
    print("export CELERY_TASK_ALWAYS_EAGER=true")
    print("export PARLEY_TEST_SERVICES=" + ",".join(sorted(k.split("_")[0].lower() for k in exports)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
