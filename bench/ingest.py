"""Page-view ingestion throughput and latency, beside a bare ASGI app, in one run.

    python bench/ingest.py [--seconds 8] [--connections 32]

Starts, one after the other, on 127.0.0.1 and a free port, with uvicorn (one
process each): the bare app (bench/bare_asgi.py: reads and parses the JSON
body) and Parley (engage.asgi, PostgreSQL). A load process (bench/loadgen.py)
posts one page view per request. For each server it prints closed-loop
throughput; for Parley also open-loop latency at 80 % of the bare app's x0.25
target and at 80 % of Parley's own throughput, the number of rows in the
database against the requests accepted, the time until the last accepted row
was committed after the load stopped, and the most database connections the
process held. Figures go in docs/performance.md; this script asserts nothing.

The database is ``$BENCH_DATABASE_URL`` or postgres://postgres@127.0.0.1:5432/parley_bench_ingest
(created and migrated if missing); Redis (rate-limit sharing) is ``$REDIS_URL`` when set.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import loadgen  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/parley_bench_ingest"


def _ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE analytics_event, analytics_pageview, analytics_visit, analytics_visitor")


def _serve(app: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    # A free port, then --port: uvicorn's --fd takes any inherited socket for AF_UNIX and so
    # never sets TCP_NODELAY, which adds a delayed-ACK stall (~40 ms) to every response.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log", "--lifespan", "on", "--backlog", "2048",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{app} did not start")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()  # SIGTERM: uvicorn runs the lifespan shutdown (the writer drains)
    process.wait(timeout=30)


def _requests(count: int, brand: int = 1001, channel: str = "chat_live", prefix: str = "bench") -> list[bytes]:
    now = int(time.time() * 1000)
    out = []
    for n in range(count):
        body = json.dumps(
            {
                "visitor": f"bench-visitor-{n % 5000:05d}",
                "visit": f"bench-visit-{n % 5000:05d}",
                "sentAt": now,
                "events": [
                    {
                        "type": "page_view",
                        "id": f"{prefix}-pv-{n:08d}",
                        "at": now - 10,
                        "url": f"https://shop.example/products/{n % 300}?ref=bench",
                        "title": f"Product {n % 300} - Acme Shop",
                        "referrer": "https://shop.example/",
                    }
                ],
            }
        ).encode()
        head = (
            f"POST /analytics/1.0/brand/{brand}/channel/{channel}/events HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


def _load(kind: str, port: int, requests: list[bytes], **kwargs: object) -> dict:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=loadgen.run, args=(kind, port, requests, kwargs, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM analytics_pageview").fetchone()[0]


def _connections(url: str) -> int:
    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
        ).fetchone()[0]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    parser.add_argument("--rounds", type=int, default=3, help="alternated throughput runs per server")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    _ensure_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "true",
        "PARLEY_ANALYTICS_RATE_LIMIT_IP": "1000000000",  # one load process is one address
        "PARLEY_ANALYTICS_RATE_LIMIT_VISITOR": "1000000000",
        "DATABASE_POOL_MAX": "4",
        "PYTHONPATH": str(ROOT / "bench"),
    }
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(
        f"ingest bench (load average {load}): uvicorn, 1 process each, {args.connections} keep-alive connections, "
        f"{args.rounds} alternated runs of {args.seconds:.0f} s per server, one page view per request"
    )
    bare, bare_port = _serve("bare_asgi:app", env)
    parley, port = _serve("engage.asgi:application", env)
    try:
        _load("closed", bare_port, _requests(2000, prefix="warm"), connections=args.connections, seconds=1.0)
        _load("closed", port, _requests(5000, prefix="warm"), connections=args.connections, seconds=1.0)
        time.sleep(1.0)  # the warm-up's last flush
        before = _rows(url)
        bare_rates, rates, accepted, lags, peak_connections = [], [], 0, [], 0
        for round_number in range(args.rounds):
            bare_rates.append(
                _load("closed", bare_port, _requests(60_000, prefix=f"b{round_number}"),
                      connections=args.connections, seconds=args.seconds)["rate"]
            )  # fmt: skip
            result = _load(
                "closed", port, _requests(60_000, prefix=f"p{round_number}"),
                connections=args.connections, seconds=args.seconds,
            )  # fmt: skip
            stopped = time.perf_counter()
            peak_connections = max(peak_connections, _connections(url))
            rates.append(result["rate"])
            accepted += result["statuses"].get(202, 0)
            while _rows(url) - before < accepted and time.perf_counter() - stopped < 30:
                time.sleep(0.005)
            lags.append(time.perf_counter() - stopped)
        stored = _rows(url) - before
        bare_rate, rate = _median(bare_rates), _median(rates)
        bare_runs = [int(r) for r in bare_rates]
        print(f"  bare ASGI app (parse JSON only):      {bare_rate:8.0f} requests/s   runs: {bare_runs}")
        print(f"  Parley ingestion (PostgreSQL):        {rate:8.0f} page views/s runs: {[int(r) for r in rates]}")
        print(f"  ratio to the bare app (medians):      {rate / bare_rate:8.2f}  (target >= 0.25)")
        print(
            f"  rows stored / accepted:               {stored} / {accepted}; last row committed "
            f"{max(lags) * 1000:.0f} ms after a run stopped (worst of {args.rounds})"
        )
        print(f"  database connections of the process: {peak_connections}")
        target = 0.8 * 0.25 * bare_rate
        for label, server_port, rate_now in (
            ("bare app   ", bare_port, target),
            ("Parley     ", port, target),
            ("Parley     ", port, 0.8 * rate),
        ):
            fresh = _requests(int(rate_now * args.seconds) + 10, prefix=f"open{label.strip()}{int(rate_now)}")
            latency = _load(
                "open", server_port, fresh, rate=rate_now, seconds=args.seconds, connections=args.connections * 4
            )
            print(
                f"  {label} open loop at {rate_now:6.0f}/s: p50 {latency['p50_ms']:.1f} ms, "
                f"p99 {latency['p99_ms']:.1f} ms, max {latency['max_ms']:.1f} ms  {latency['statuses']}"
            )
        accepted_total = _rows(url) - before
    finally:
        _stop(bare)
        _stop(parley)
    print(
        f"  rows after a clean shutdown (SIGTERM): {_rows(url) - before} "
        f"(at least {accepted_total} were stored before it; every accepted row is kept)"
    )


if __name__ == "__main__":
    main()
