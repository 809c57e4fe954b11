"""A small HTTP/1.1 keep-alive load generator (asyncio, raw sockets), run in its own process.

Closed loop: ``connections`` clients send back to back for ``seconds``: throughput.
Open loop: requests are scheduled at a fixed ``rate``; latency counts from the
scheduled time, so a server that falls behind shows it (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


async def _connect(port: int, count: int) -> list[Connection]:
    pairs = [await asyncio.open_connection("127.0.0.1", port) for _ in range(count)]
    return [Connection(r, w) for r, w in pairs]


async def closed_loop(port: int, requests: list[bytes], connections: int, seconds: float) -> dict:
    pool = await _connect(port, connections)
    statuses: dict[int, int] = {}
    index = 0
    deadline = time.perf_counter() + seconds

    async def client(connection: Connection) -> None:
        nonlocal index
        while time.perf_counter() < deadline:
            raw = requests[index % len(requests)]
            index += 1
            status = await connection.request(raw)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in pool))
    elapsed = time.perf_counter() - started
    for c in pool:
        c.writer.close()
    total = sum(statuses.values())
    return {"requests": total, "seconds": elapsed, "rate": total / elapsed, "statuses": statuses, "sent": index}


async def open_loop(port: int, requests: list[bytes], rate: float, seconds: float, connections: int) -> dict:
    pool = await _connect(port, connections)
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for c in pool:
        free.put_nowait(c)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    tasks = []
    start = time.perf_counter() + 0.05
    count = int(rate * seconds)

    async def one(scheduled: float, raw: bytes) -> None:
        connection = await free.get()
        status = await connection.request(raw)
        latencies.append(time.perf_counter() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1
        free.put_nowait(connection)

    for n in range(count):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, requests[n % len(requests)])))
    await asyncio.gather(*tasks)
    for c in pool:
        c.writer.close()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "rate": rate,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "statuses": statuses,
    }


def run(kind: str, port: int, requests: list[bytes], kwargs: dict, out) -> None:  # type: ignore[no-untyped-def]
    """Entry point of the load process: puts the result dict on ``out`` (a multiprocessing queue)."""
    if kind == "closed":
        result = asyncio.run(closed_loop(port, requests, **kwargs))
    else:
        result = asyncio.run(open_loop(port, requests, **kwargs))
    out.put(result)
