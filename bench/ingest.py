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
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    port = sock.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--fd",
        str(sock.fileno()),
        "--log-level",
        "warning",
        "--no-access-log",
        "--lifespan",
        "on",
        "--backlog",
        "2048",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, pass_fds=[sock.fileno()])
    sock.close()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
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
    requests = _requests(200_000)
    print(
        f"ingest bench: uvicorn, 1 process each, {args.connections} keep-alive connections, {args.seconds:.0f} s runs"
    )

    bare, port = _serve("bare_asgi:app", env)
    try:
        _load("closed", port, requests[:1000], connections=args.connections, seconds=1.0)  # warm up
        bare_result = _load("closed", port, requests, connections=args.connections, seconds=args.seconds)
    finally:
        _stop(bare)
    print(f"  bare ASGI app (parse JSON only):      {bare_result['rate']:8.0f} requests/s  {bare_result['statuses']}")

    parley, port = _serve("engage.asgi:application", env)
    try:
        _load("closed", port, _requests(2000, channel="chat_msg"), connections=args.connections, seconds=1.0)
        before = _rows(url)
        result = _load("closed", port, requests, connections=args.connections, seconds=args.seconds)
        stopped = time.perf_counter()
        peak_connections = _connections(url)
        accepted = result["statuses"].get(202, 0)
        while _rows(url) - before < accepted and time.perf_counter() - stopped < 30:
            time.sleep(0.01)
        lag = time.perf_counter() - stopped
        stored = _rows(url) - before
        ratio = result["rate"] / bare_result["rate"]
        print(f"  Parley ingestion (PostgreSQL):        {result['rate']:8.0f} page views/s  {result['statuses']}")
        print(f"  ratio to the bare app:                {ratio:8.2f}  (target ≥ 0.25)")
        print(
            f"  rows stored / accepted:               {stored} / {accepted}; last row committed "
            f"{lag * 1000:.0f} ms after the load stopped"
        )
        print(f"  database connections held:            {peak_connections}")
        for label, rate in (
            ("80 % of 0.25 x bare", 0.8 * 0.25 * bare_result["rate"]),
            ("80 % of Parley's throughput", 0.8 * result["rate"]),
        ):
            fresh = _requests(int(rate * args.seconds) + 10, prefix=f"open{int(rate)}")
            latency = _load("open", port, fresh, rate=rate, seconds=args.seconds, connections=args.connections * 4)
            print(
                f"  open loop at {rate:6.0f}/s ({label}): p50 {latency['p50_ms']:.1f} ms, "
                f"p99 {latency['p99_ms']:.1f} ms, max {latency['max_ms']:.1f} ms  {latency['statuses']}"
            )
    finally:
        _stop(parley)
    print(f"  rows after a clean shutdown:          {_rows(url) - before} (every accepted row is kept)")


if __name__ == "__main__":
    main()
