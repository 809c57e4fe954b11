"""Runs every Parley benchmark in turn and prints their figures (``make bench``).

Each benchmark starts the servers it measures on free loopback ports and stops
them itself; nothing leaves 127.0.0.1. Figures are printed, never asserted.
Pass ``--quick`` for a shorter run of the gateway load test. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

SUITE = [
    ("front-end budgets", ["frontend_budget.py"]),
    ("rule evaluation in the browser", ["rules_browser.py"]),
    ("page-view ingestion", ["ingest.py"]),
    ("routing and the agent API", ["console_routing.py"]),
    ("visitor gateway", ["gateway_load.py"]),
    ("costs after idle", ["cold_costs.py"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter gateway load test")
    parser.add_argument("--only", help="run only benchmarks whose script name contains this")
    options = parser.parse_args()
    failures = []
    for title, command in SUITE:
        if options.only and options.only not in command[0]:
            continue
        args = [*command, "--quick"] if options.quick and command[0] == "gateway_load.py" else command
        print(f"\n=== {title}: bench/{' '.join(args)}", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(BENCH / args[0]), *args[1:]], cwd=BENCH.parent, check=False)
        print(f"=== {title}: exit {result.returncode} after {time.monotonic() - started:.0f} s", flush=True)
        if result.returncode:
            failures.append(title)
    if failures:
        print("\nbenchmarks that did not complete: " + ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
