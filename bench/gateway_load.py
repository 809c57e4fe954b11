"""Load generator for the visitor gateway, against a bare ``websockets`` relay in the same run.

    python bench/gateway_load.py            # full: 500 conversations, 50 and 250 msg/s (--rates 1000 …)
    python bench/gateway_load.py --quick    # about two minutes

For each server under test (the bare relay of bench/bare_relay.py, then Parley
under daphne and under uvicorn, each started here on a free 127.0.0.1 port,
on PostgreSQL database ``parley_bench`` that this script recreates, migrates
and seeds, and on Redis) it runs N concurrent conversations. A conversation is
a visitor socket speaking the CXone visitor protocol (token exchange, then
``ws/visitor`` with the transaction token, SendMessage frames, MessageCreated
pushes) and an agent: agent console sockets (``ws/console``, logged in as the
tenant administrator) receive, and reply as the browser console does: a ``send``
frame on the console socket (over the agent REST API, same client id, if the
socket closes before answering; ``--agent-replies rest`` sends every reply over
REST as consoles did before), so the server under test does the agent's writes too.

Under failure both sides behave as their real clients do, so a socket the server
closes under overload loses nothing by itself: the console reconnects and
resyncs by sequence; the visitor (as the SDK) reconnects with its cached token
(a new one if refused), sends again every SendMessage left unanswered (same
``idOnExternalPlatform``) and recovers the pushes it missed (``RecoverThread``,
then ``LoadMoreMessages`` back to what it holds); both drop what they already
hold. Reconnects, resends and recoveries are counted per phase.

``--relays asgi-relay,channels-relay`` also measures the bare relay on Parley's
own stack (bench/stack_relay.py: plain ASGI under uvicorn, and a Channels consumer
with Parley's dispatch and in-process layer), so a ratio can be split between
the stack and what Parley does per message. The bare relay runs without
compression, as Parley does; ``--relays bare-deflate`` also measures it with
``websockets``' default permessage-deflate (every frame compressed).

``--workers N`` runs uvicorn with N worker processes on one listening socket
(every process on the same PostgreSQL and Redis, events between them through the
channel layer); CPU and memory are those of the whole process tree.

Measured, open loop (every message has a scheduled send time; latency runs
from that time, so a server that falls behind cannot hide it):

- visitor → agent and agent → visitor latency p50/p99 at each offered rate
  (half of the rate each way);
- saturation throughput: a burst of messages sent at once, delivered per second;
- server CPU per delivered message (``/proc/<pid>/stat`` of the server's process tree),
  and its wake-ups per message (voluntary context switches: the loop slept in
  ``epoll_wait`` and a socket or timer woke it; the relay's is 1.0);
- the server's idle CPU with every conversation's sockets open (what a rate's CPU
  per message includes besides the messages);
- the server's pauses for its cyclic garbage collector of 5 ms or more in each
  phase (``GC pauses``: count x longest, from the ``parley.gc`` log lines);
- what else shares the machine at each rate: the clients' own CPU per message
  (this process), PostgreSQL's (``DB µs/msg``: its postmaster's process tree,
  backends reaped during the phase included; shown when PostgreSQL runs on this
  machine), how many of the machine's CPUs were busy (server, clients,
  PostgreSQL and Redis together), and the share its host stole from this
  virtual machine (``steal %``: time every waiting message waits too);
- the storage's floor: one-row PostgreSQL commits at each rate on the bench
  database, without a server (with ``synchronous_commit`` on, PostgreSQL's default,
  each waits for the disk's flush; ``--synchronous-commit off`` sets the bench
  database not to wait, to tell the disk's share of the latencies apart);
- memory per idle visitor connection with permessage-deflate offered;
- new connections per second (upgrades completed, tokens fetched beforehand);
- messages lost and duplicated (must be 0) in every phase;
- the frame-size limit (a 1 MiB frame must be refused);
- large events: at the first rate, small messages alone and with 1 % of the
  requests a ``RecoverThread`` of a thread of 16 cards of 60 000 characters
  (seeded over the socket and the agent REST API), whose ~1 MB answer comes as
  ``EventInS3`` and is fetched over HTTP as the SDK does (halves mixed, alone,
  alone, mixed; ``--large-seconds``): the small messages' p50/p99 in both and
  the p99 ratio (target ≤ 1.20), the large events' latency, the fetch's own
  latency, bytes and server CPU per event, failed and lost large events. The
  bare relay's comparable is a 1 MB message relayed inline (it has no URL way).

Figures are printed as a table with ratios against the bare relay; ``--json``
writes them to a file. This is a benchmark: it prints, it asserts nothing.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import gc
import json
import multiprocessing
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import psycopg_pool
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GC_PAUSE_LOG_MS = 5  # the servers log every collection that pauses them this long or longer
COLLECTOR_PAUSE = re.compile(r"parley\.gc collection of generation \d paused the process for ([0-9.]+) ms")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = 4
BRAND_ID = 1001
CHANNEL_ID = "chat_msg"


def _dumps(value: Any) -> str:
    """Compact JSON text, by orjson: the clients' own CPU per message is part of the machine's load."""
    return orjson.dumps(value).decode()


# --- Configuration ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    conversations: int
    rates: tuple[float, ...]  # messages per second offered, half each way
    duration: float  # seconds per rate
    burst: int  # messages sent at once for the saturation phase
    idle: int  # idle connections for memory and connection rate
    agents: int  # agent console sockets
    servers: tuple[str, ...]
    agent_replies: str = "socket"  # "socket": send frames on the console socket; "rest": the agent REST API
    workers: int = 1  # uvicorn worker processes (--workers)
    large_seconds: float = 4.0  # each run of the large-events phase (0: skip it)
    relays: tuple[str, ...] = ()  # the bare relay on Parley's stack too (StackRelay)
    repeat: int = 1  # runs of each rate; medians reported (merge_runs)
    synchronous_commit: str = "on"  # of the bench database: "off" takes the storage's flush out of each write


QUICK = Plan(
    conversations=100, rates=(50.0,), duration=6.0, burst=400, idle=300, agents=1, servers=("daphne", "uvicorn")
)
FULL = Plan(
    conversations=500,
    rates=(50.0, 250.0),
    duration=8.0,
    burst=1000,
    idle=1500,
    agents=1,
    servers=("daphne", "uvicorn", "uvicorn+pubsub"),
    large_seconds=30.0,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process descending from it (uvicorn ``--workers``: the parent and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, stack = [], [pid]
    while stack:
        tree.append(current := stack.pop())
        stack.extend(children.get(current, ()))
    return tree


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree under ``pid``, with what its children already reaped had used."""
    total = 0
    for member in process_tree(pid):
        fields = _stat(member)
        if fields is not None:
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICK


DATABASE_PID: int | None = None  # PostgreSQL's postmaster, when it runs on this machine (``database_pid``)


def database_pid(database_url: str) -> int | None:
    """The postmaster of the bench database's server (the parent of a backend), or None when that
    backend is not a process of this machine: its process tree is the database's CPU."""
    with psycopg.connect(database_url, autocommit=True) as connection:  # read while the backend lives
        backend = connection.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        fields = _stat(backend)
        with contextlib.suppress(OSError):
            if fields is not None and Path(f"/proc/{backend}/cmdline").read_bytes().startswith(b"postgres"):
                return int(fields[1])
    return None


def database_cpu_seconds() -> float | None:
    """``cpu_seconds`` of PostgreSQL's process tree; None when it is not on this machine."""
    return None if DATABASE_PID is None else cpu_seconds(DATABASE_PID)


def per_message_us(seconds: float | None, delivered: int) -> float | None:
    """CPU seconds over a phase as µs per delivered message (None without messages or a figure)."""
    return round(seconds / delivered * 1e6, 1) if delivered and seconds is not None else None


def machine_cpu_seconds() -> tuple[float, float]:
    """CPU seconds the machine's CPUs spent on anything (/proc/stat: all but idle, iowait and
    steal), and those stolen: a virtual machine's CPU that wanted to run while its host ran
    something else. Steal is time every waiting message waits too."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq) / CLOCK_TICK, steal / CLOCK_TICK


def own_cpu_seconds() -> float:
    """This benchmark's own CPU seconds: the clients' share of the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sleeps(pid: int) -> int:
    """Voluntary context switches of the process tree under ``pid``: each is the event loop going
    to sleep in ``epoll_wait`` with nothing to do, so the next readable socket or timer wakes it
    (about 50 to 80 µs of CPU each on this machine, scheduler and poll included)."""
    total = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                total += int(line.split()[1])
    return total


def rss_kib(pid: int) -> int:
    """Resident memory of the process tree under ``pid`` (shared pages count once per process)."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def socket_owners(pid: int, port: int) -> dict[int, int]:
    """Client port -> the process of ``pid``'s tree holding the accepted socket (which worker serves whom)."""
    peers: dict[str, int] = {}  # socket inode -> the client's port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    peers[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    owners: dict[int, int] = {}
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{member}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(fd.path)
                    if target.startswith("socket:[") and target[8:-1] in peers:
                        owners[peers[target[8:-1]]] = member
    return owners


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- Bookkeeping --------------------------------------------------------------------


class Recorder:
    """Scheduled sends and receipts of one phase; latency from the scheduled time."""

    def __init__(self) -> None:
        self.scheduled: dict[str, tuple[str, float]] = {}
        self.seen: Counter[str] = Counter()
        self.latency: dict[str, list[float]] = {"v2a": [], "a2v": []}
        self.duplicates = 0
        self.last_receipt = 0.0
        self.send_errors = 0
        self.refused: set[str] = set()  # the sender was told no (an error answer): not lost
        # How the clients got through failures (SDK behaviour, see ParleyConversation).
        self.reconnects = 0  # visitor sockets opened again after a close
        self.resends = 0  # SendMessage frames sent again on a new socket (same idOnExternalPlatform)
        self.recovered = 0  # agent messages brought by RecoverThread/LoadMoreMessages, not by a push
        self.pages = 0  # LoadMoreMessages requests of those recoveries
        self.new_tokens = 0  # transaction tokens fetched again after a refused upgrade
        self.console_reconnects = 0
        self.closes: Counter[str] = Counter()  # visitor socket closes by code
        self.send_failures: Counter[str] = Counter()  # refused sends by direction and exception

    def expect(self, message_id: str, direction: str, at: float) -> None:
        self.scheduled[message_id] = (direction, at)

    def received(self, message_id: str) -> None:
        Phase.activity += 1
        entry = self.scheduled.get(message_id)
        if entry is None:
            return
        self.seen[message_id] += 1
        if self.seen[message_id] > 1:
            self.duplicates += 1
            return
        now = time.perf_counter()
        self.latency[entry[0]].append(now - entry[1])
        self.last_receipt = max(self.last_receipt, now)

    @property
    def lost(self) -> int:
        return sum(1 for message_id in self.scheduled if message_id not in self.seen and message_id not in self.refused)

    def lost_by_direction(self) -> dict[str, int]:
        lost = Counter(
            direction
            for message_id, (direction, _) in self.scheduled.items()
            if message_id not in self.seen and message_id not in self.refused
        )
        return {direction: lost.get(direction, 0) for direction in ("v2a", "a2v")}

    @property
    def delivered(self) -> int:
        return len(self.seen)

    def complete(self) -> bool:
        return len(self.seen) + len(self.refused) >= len(self.scheduled)


class Phase:
    current: Recorder = Recorder()
    activity = 0  # grows with every frame the clients read and socket they open: the drain's sign of work


def sdk_frame(event_type: str, data: dict[str, Any], *, action: str = "chatWindowEvent") -> str:
    """A client frame as the CXone SDK 2.2.0 builds it (section 5.1 of the protocol reference)."""
    return _dumps(
        {
            "action": action,
            "eventId": str(uuid.uuid4()),
            "payload": {
                "eventType": event_type,
                "brand": {"id": BRAND_ID},
                "channel": {"id": CHANNEL_ID},
                "consumerIdentity": {"idOnExternalPlatform": "bench"},
                "data": data,
                "destination": {},
                "visitor": {},
                "visit": {},
            },
        }
    )


def send_message_frame(thread: str, message_id: str) -> str:
    return sdk_frame(
        "SendMessage",
        {
            "messageContent": {"type": "TEXT", "payload": {"text": message_id}},
            "idOnExternalPlatform": message_id,
            "thread": {"idOnExternalPlatform": thread},
            "consumer": {"customFields": []},
            "consumerContact": {"customFields": []},
            "attachments": [],
        },
    )


# --- Servers under test -------------------------------------------------------------


class Server:
    """A server process under test: started on a free port, measured through /proc."""

    name = "server"

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    async def start(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.environment(), stdout=subprocess.DEVNULL, stderr=self.log()
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen within 60 s")

    @property
    def log_path(self) -> Path:
        return ROOT / "var" / "bench" / f"{self.name.replace('+', '-')}.log"

    def log(self) -> Any:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return self.log_path.open("wb")

    def collector_pauses(self) -> list[float]:
        """Every pause of the cyclic garbage collector the server has logged so far, ms (Parley logs
        those of ``GC_PAUSE_LOG_MS`` or more, engage.asgi.CollectorPauses; the relay none)."""
        if self.process is None or not self.log_path.exists():
            return []
        return [float(ms) for ms in COLLECTOR_PAUSE.findall(self.log_path.read_text(errors="replace"))]

    async def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        for _ in range(100):
            if self.process.poll() is not None:
                return
            await asyncio.sleep(0.1)
        self.process.kill()
        self.process.wait()


class BareRelay(Server):
    name = "bare"

    def command(self) -> list[str]:
        return [sys.executable, str(ROOT / "bench" / "bare_relay.py"), "--port", str(self.port)]


class DeflateBareRelay(BareRelay):
    """The bare relay with ``websockets``' default compression (``bare-deflate``): it compresses every
    frame for the bench's clients, which offer permessage-deflate, where Parley is run without (the
    baseline until the sixteenth session, docs/performance.md)."""

    name = "bare-deflate"

    def command(self) -> list[str]:
        return [*super().command(), "--compression", "deflate"]


class StackRelay(BareRelay):
    """The bare relay on Parley's stack (bench/stack_relay.py): ``asgi-relay`` (uvicorn, plain ASGI)
    or ``channels-relay`` (uvicorn, Channels with Parley's dispatch and in-process layer), served with
    Parley's uvicorn flags. Not a target's baseline: they show how much of Parley's cost is the stack's."""

    APPS = {"asgi-relay": "stack_relay:asgi", "channels-relay": "stack_relay:channels"}

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def environment(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT)}  # Parley's event loop (and dispatch)

    def command(self) -> list[str]:
        return [
            *(str(BIN / "uvicorn"), self.APPS[self.name], "--app-dir", str(ROOT / "bench")),
            *("--host", "127.0.0.1", "--port", str(self.port), "--no-access-log", "--log-level", "warning"),
            *("--ws-max-size", str(128 * 1024), "--ws-per-message-deflate", "false", "--lifespan", "off"),
            *("--loop", "engage.lib.loops:new_event_loop", "--ws", "engage.lib.websocket_protocol:WebSocketProtocol"),
        ]


LAYERS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "fanout": "engage.layers.RedisFanoutChannelLayer",
}


class Parley(Server):
    """``<server>[-deflate][+<layer>]``: daphne or uvicorn, with a channel layer of LAYERS (default
    fanout, Parley's default with Redis, ADR 0005)."""

    def __init__(self, name: str, environment: dict[str, str], workers: int = 1) -> None:
        super().__init__()
        self.server, _, layer = name.partition("+")
        self.layer = LAYERS[layer or "fanout"]
        self.env = environment
        # uvicorn --workers N: N processes on one listening socket, the parent supervising them; every
        # process on the same database and Redis, events between them through the channel layer.
        self.workers = workers if self.server.startswith("uvicorn") else 1
        self.name = name if self.workers == 1 else f"{name}x{self.workers}"

    def worker_pids(self) -> list[int]:
        """The processes serving sockets: uvicorn's workers, or the server itself when it runs alone."""
        if self.workers == 1:
            return [self.pid]
        workers = []
        for pid in process_tree(self.pid):
            fields = _stat(pid)
            if fields is None or int(fields[1]) != self.pid:
                continue  # a worker's own children (its render processes) are not workers
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    workers.append(pid)
        return sorted(workers)

    async def start(self) -> None:
        """Listening is not serving: with workers the parent holds the socket before any worker runs, so
        this waits for every worker to be up and for an HTTP answer."""
        await super().start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(process_tree(self.pid)) > self.workers or self.workers == 1:
                with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError):
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    head = await asyncio.wait_for(reader.readexactly(8), 5)
                    writer.close()
                    if head.startswith(b"HTTP/"):
                        await asyncio.sleep(0.5 if self.workers > 1 else 0)  # the other workers' startup
                        return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer HTTP within 60 s; see {self.log_path}")

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.env,
            "PARLEY_GC_PAUSE_LOG_MS": str(GC_PAUSE_LOG_MS),
            "CHANNEL_LAYER_BACKEND": self.layer,
            "CHANNEL_LAYER_PREFIX": f"bench{os.getpid()}{self.name.replace('+', '-')}",
        }

    def command(self) -> list[str]:
        """The server as docs/performance.md recommends running it (``uvicorn-deflate``: with compression)."""
        if self.server == "daphne":
            return [
                str(BIN / "daphne"),
                *("-b", "127.0.0.1", "-p", str(self.port), "-v", "0"),
                *("--websocket-max-message-size", str(128 * 1024), "--websocket-max-frame-size", str(128 * 1024)),
                "engage.asgi:application",
            ]
        return [
            str(BIN / "uvicorn"),
            "engage.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--ws-max-size",
            str(128 * 1024),
            "--timeout-graceful-shutdown",
            "2",
            "--loop",
            "engage.lib.loops:new_event_loop",  # uvloop without libuv's io_uring (docs/deployment.md)
            "--ws",
            "engage.lib.websocket_protocol:WebSocketProtocol",  # shared keepalive ticks (docs/deployment.md)
            *(["--ws-per-message-deflate", "false"] if self.server == "uvicorn" else []),
            *(["--workers", str(self.workers)] if self.workers > 1 else []),
        ]


# --- Clients: one conversation = a visitor socket + an agent --------------------------


class Conversation:
    def __init__(self, index: int) -> None:
        self.index = index
        self.visitor: ClientConnection | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def send_visitor(self, message_id: str) -> None:
        raise NotImplementedError

    async def send_agent(self, message_id: str) -> None:
        raise NotImplementedError

    def unanswered_count(self) -> int:
        return 0

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.visitor is not None:
            await self.visitor.close()


async def _read_bare(socket: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for frame in socket:
            if frame == '"pong"':
                continue
            parsed = orjson.loads(frame)
            text = parsed["payload"]["data"]["messageContent"]["payload"]["text"]
            Phase.current.received(text)


class BareConversation(Conversation):
    def __init__(self, index: int, port: int) -> None:
        super().__init__(index)
        self.port = port
        self.agent: ClientConnection | None = None
        self.thread = f"bare-t{index}"

    async def open(self) -> None:
        base = f"ws://127.0.0.1:{self.port}"
        self.visitor = await connect(f"{base}/visitor?c={self.index}", ping_interval=None, max_size=2**20)
        self.agent = await connect(f"{base}/agent?c={self.index}", ping_interval=None, max_size=2**20)
        self.tasks = [asyncio.create_task(_read_bare(self.visitor)), asyncio.create_task(_read_bare(self.agent))]

    async def send_visitor(self, message_id: str) -> None:
        assert self.visitor is not None
        await self.visitor.send(send_message_frame(self.thread, message_id))

    async def send_agent(self, message_id: str) -> None:
        assert self.agent is not None
        await self.agent.send(send_message_frame(self.thread, message_id))

    async def close(self) -> None:
        await super().close()
        if self.agent is not None:
            await self.agent.close()


class ParleyClients:
    """Token exchange, the agent's REST client and the agent's view of the console fan-out."""

    def __init__(
        self, server: Parley, api_token: str, session: str, conversations: int, replies: str = "socket"
    ) -> None:
        self.server = server
        self.replies = replies
        self.live: dict[int, ClientConnection] = {}  # console number -> its open socket
        # send ref -> (the console it went on, its sent/error answer)
        self.answers: dict[str, tuple[ClientConnection, asyncio.Future[dict[str, Any]]]] = {}
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}",
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
            timeout=60,
        )
        # REST replies wait here, not in httpx's pool: a console closed with 2 000 replies in flight sends
        # them all over REST at once, and the pool's bookkeeping of that many waiting requests took the
        # bench's whole CPU for tens of seconds (server idle, pongs unanswered, the drain ended early).
        self.rest_slots = asyncio.Semaphore(64)
        self.api_token = api_token
        self.session = session
        self.conversations = conversations
        self.consoles: list[ClientConnection] = []
        self.threads: dict[int, int] = {}  # conversation index -> thread pk
        self.thread_ready: dict[int, asyncio.Future[int]] = {}
        self.errors: Counter[str] = Counter()
        self._tasks: list[asyncio.Task[None]] = []

    async def token(self, customer: str) -> str:
        response = await self.http.post(
            f"/oauth/token?brandId={BRAND_ID}&channelId={CHANNEL_ID}&visitorId=v-{customer}",
            json={"customerIdentity": {"idOnExternalPlatform": customer}},
        )
        response.raise_for_status()
        return response.json()["accessToken"]

    def visitor_url(self, token: str, visitor: str) -> str:
        return (
            f"ws://127.0.0.1:{self.server.port}/ws/visitor?v=0&sdkPlatform=web&sdkVersion=2.2.0"
            f"&brandId={BRAND_ID}&channelId={CHANNEL_ID}&visitorId={visitor}&transactionToken={token}"
        )

    async def start_agent(self, agents: int) -> None:
        """The agents' receiving side: ``agents`` console sockets (``ws/console``) of the administrator.

        Every console of the tenant receives every message; console ``n`` answers for the
        conversations whose index is ``n`` modulo ``agents`` and counts only those. Like the
        console in the browser, a console whose socket closes reconnects and resyncs each
        thread from its last contiguous sequence, and ignores a sequence it already holds.
        """
        self.agents = agents
        self.held: list[dict[int, set[int]]] = [{} for _ in range(agents)]
        self.reconnects = 0
        self._sending: set[asyncio.Task[None]] = set()
        self._tasks = [asyncio.create_task(self._console(number)) for number in range(agents)]
        self.consoles_ready = [asyncio.get_running_loop().create_future() for _ in range(agents)]
        await asyncio.wait_for(asyncio.gather(*self.consoles_ready), 60)

    async def _open_console(self) -> ClientConnection:
        url = f"ws://127.0.0.1:{self.server.port}/ws/console?tenant=acme"
        console = await connect(
            url, additional_headers={"Cookie": f"sessionid={self.session}"}, ping_interval=None, max_size=2**24
        )
        welcome = orjson.loads(await asyncio.wait_for(console.recv(), 60))
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"console socket refused: {welcome}")
        self.consoles.append(console)
        return console

    @staticmethod
    def _contiguous(sequences: set[int]) -> int:
        last = 0
        while last + 1 in sequences:
            last += 1
        return last

    async def _console(self, number: int) -> None:
        held = self.held[number]
        first = True
        while True:
            try:
                console = await self._open_console()
            except Exception:
                await asyncio.sleep(0.5)
                continue
            self.live[number] = console
            if first:
                self.consoles_ready[number].set_result(None)
                first = False
            else:
                self.reconnects += 1
                Phase.current.console_reconnects += 1
                threads = {str(thread): self._contiguous(sequences) for thread, sequences in held.items()}
                items = list(threads.items())
                for offset in range(0, len(items), 50):
                    await console.send(_dumps({"type": "resync", "threads": dict(items[offset : offset + 50])}))
            with contextlib.suppress(ConnectionClosed):
                async for frame in console:
                    try:
                        await self._console_frame(console, orjson.loads(frame), number)
                    except Exception as error:  # a reader that dies would stall the server's sends
                        self.errors[f"console frame {type(error).__name__}: {error}"[:120]] += 1
            if self.live.get(number) is console:
                del self.live[number]
            for ref, (sent_on, future) in list(self.answers.items()):
                if sent_on is console:
                    del self.answers[ref]
                    if not future.done():
                        future.set_exception(ConnectionClosed(None, None))

    async def _console_frame(self, console: ClientConnection, parsed: dict[str, Any], number: int) -> None:
        kind = parsed.get("type")
        waiting = self.answers.pop(parsed["ref"], None) if kind in ("sent", "error") and parsed.get("ref") else None
        if waiting is not None:
            future = waiting[1]
            if not future.done():
                future.set_result(parsed)
            if kind == "error":
                self.errors[f"console send error {parsed.get('code')}"] += 1
        elif kind == "error":
            self.errors[f"console error {parsed.get('code')}"] += 1
        elif kind == "message":
            self._agent_message(parsed["thread_id"], parsed["message"], number)
        elif kind == "messages":
            for message in parsed["messages"]:
                self._agent_message(parsed["thread_id"], message, number)
            if parsed.get("has_more") and parsed["messages"]:
                after = parsed["messages"][-1]["sequence"]
                # Sent beside the reading, as a browser's send never stops it reading: awaiting the
                # send here could wait on a server that waits for this client to read.
                self._sending.add(task := asyncio.create_task(self._send_quietly(console, after, parsed["thread_id"])))
                task.add_done_callback(self._sending.discard)

    async def _send_quietly(self, console: ClientConnection, after: int, thread_id: int) -> None:
        with contextlib.suppress(ConnectionClosed):
            await console.send(_dumps({"type": "resync", "threads": {str(thread_id): after}}))

    def _agent_message(self, thread_id: int, message: dict[str, Any], number: int) -> None:
        sequences = self.held[number].setdefault(thread_id, set())
        if message["sequence"] in sequences:
            return  # already held: a resync overlaps what the pushes brought
        sequences.add(message["sequence"])
        if message["direction"] != "inbound":
            return
        client_id = message["client_id"]
        index = int(client_id.rsplit("-", 1)[-1])
        if index % self.agents != number:
            return
        if client_id.startswith("w-"):
            self.threads[index] = thread_id
            future = self.thread_ready.get(index)
            if future is not None and not future.done():
                future.set_result(thread_id)
        else:
            Phase.current.received(client_id)

    async def agent_send(self, index: int, message_id: str) -> None:
        """Like the browser console: over its socket when open, else (or if it closes first) over REST."""
        console = self.live.get(index % self.agents) if self.replies == "socket" else None
        if console is not None:
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self.answers[message_id] = (console, future)
            frame = {"type": "send", "thread_id": self.threads[index], "client_id": message_id, "text": message_id}
            try:
                await console.send(_dumps({**frame, "ref": message_id}))
                answer = await asyncio.wait_for(future, 60)
            except (ConnectionClosed, TimeoutError):
                self.answers.pop(message_id, None)
                self.errors["agent replies over REST (socket closed or silent)"] += 1
            else:
                if answer["type"] != "sent":
                    raise RuntimeError(f"agent reply refused with {answer.get('code')}")
                return
        await self._agent_rest(index, message_id)

    async def _agent_rest(self, index: int, message_id: str) -> None:
        async with self.rest_slots:
            response = await self.http.post(
                f"/api/v1/threads/{self.threads[index]}/messages/",
                json={"text": message_id, "client_id": message_id},
                headers={"Authorization": f"Token {self.api_token}"},
            )
        if response.status_code >= 300:
            self.errors[f"agent {response.status_code}"] += 1
            raise RuntimeError(f"agent reply refused with {response.status_code}")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.http.aclose()
        await asyncio.gather(*(console.close() for console in self.consoles), return_exceptions=True)


class ParleyConversation(Conversation):
    """The visitor of a conversation, behaving as an SDK client does under failure.

    - When its socket closes (any code) or cannot be opened, it opens a new one a second later
      (the SDK's reconnect delay) with its cached transaction token, fetching a new token if the
      upgrade is refused. The SDK gives up after 20 attempts in a row; the bench keeps trying, so
      that what it counts lost is the server's doing.
    - A SendMessage is answered when a frame with its ``eventId`` arrives (an ack, or an error:
      refused). One sent while no socket is open waits for the next (the SDK queues frames while
      disconnected); one sent on a socket that closed before answering is sent again on the new
      socket as the app's retry does: a new frame (new ``eventId``) with the same
      ``idOnExternalPlatform``, which Parley answers with the original, never a second message.
    - After each reconnect it recovers what it missed: ``RecoverThread`` of its thread (the newest
      page), then ``LoadMoreMessages`` back while the page does not reach the sequences it holds
      without a gap. Every message it holds (pushed or recovered) is kept by message id and
      sequence; one it already holds is dropped, so only the server can make a duplicate.
    """

    def __init__(self, index: int, clients: ParleyClients) -> None:
        super().__init__(index)
        self.clients = clients
        self.thread = f"{clients.server.name}-t{index}"
        self.customer = f"bench-{clients.server.name}-{index}"
        self.token = ""
        self.connected = asyncio.Event()
        self.unanswered: dict[str, None] = {}  # message ids sent or queued, not answered yet, oldest first
        self.in_flight: dict[str, str] = {}  # eventId of a SendMessage on the open socket -> message id
        self.requests: dict[str, asyncio.Future[dict[str, Any]]] = {}  # eventId -> answer (recoveries)
        self.held_ids: set[str] = set()  # message ids this visitor holds
        self.held_sequences: set[int] = set()  # and their sequences in the thread
        self.opened = 0
        self.closing = False

    async def open(self) -> None:
        self.token = await self.clients.token(self.customer)
        self.clients.thread_ready[self.index] = asyncio.get_running_loop().create_future()
        self.tasks = [asyncio.create_task(self._run())]
        await asyncio.wait_for(self.connected.wait(), 60)
        await self.send_visitor(f"w-{self.clients.server.name}-{self.index}")
        await asyncio.wait_for(self.clients.thread_ready[self.index], timeout=60)

    def unanswered_count(self) -> int:
        return len(self.unanswered)

    async def _connect(self) -> ClientConnection:
        """One attempt, as the SDK makes it (4 s to open); a refused upgrade gets the next one a new token."""
        url = self.clients.visitor_url(self.token, f"v{self.index}")
        try:
            return await connect(url, ping_interval=None, open_timeout=4, max_size=2**20)
        except InvalidStatus as refused:
            if refused.response.status_code in (401, 403):
                Phase.current.new_tokens += 1
                self.token = await self.clients.token(self.customer)
            raise

    async def _run(self) -> None:
        while not self.closing:
            try:
                socket = await self._connect()
            except Exception as error:
                self.clients.errors[f"visitor connect {type(error).__name__}"[:80]] += 1
                await asyncio.sleep(1.0)
                continue
            self.visitor = socket
            Phase.activity += 1
            backlog = list(self.unanswered)  # before any new send can go on this socket
            reader = asyncio.create_task(self._read(socket))
            self.connected.set()
            self.opened += 1
            resume = None
            if self.opened > 1:
                Phase.current.reconnects += 1
                resume = asyncio.create_task(self._resume(socket, backlog))
            await reader
            self.connected.clear()
            self.in_flight.clear()  # never answered: still in ``unanswered``, sent again on the next socket
            for future in self.requests.values():
                if not future.done():
                    future.set_exception(ConnectionClosed(None, None))
            self.requests.clear()
            if resume is not None:
                resume.cancel()
            if self.closing:
                return
            Phase.current.closes[str(socket.close_code)] += 1
            await asyncio.sleep(1.0)  # the SDK's reconnect delay

    async def _read(self, socket: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in socket:
                if raw == '"pong"':
                    continue
                try:
                    self._frame(orjson.loads(raw))
                except Exception as error:  # a reader that dies would leave the socket unread
                    self.clients.errors[f"visitor frame {type(error).__name__}: {error}"[:120]] += 1

    def _frame(self, frame: dict[str, Any]) -> None:
        Phase.activity += 1
        event_id = frame.get("eventId")
        message_id = self.in_flight.pop(event_id, None)
        if message_id is not None:  # the answer to a SendMessage
            if message_id in self.unanswered:
                del self.unanswered[message_id]
                if "error" in frame:
                    self.clients.errors[f"visitor SendMessage refused: {frame['error'].get('reason')}"] += 1
                    if message_id in Phase.current.scheduled:
                        Phase.current.refused.add(message_id)
            return
        future = self.requests.pop(event_id, None)
        if future is not None:
            if not future.done():
                future.set_result(frame)
            return
        if "error" in frame:
            self.clients.errors[f"visitor error {frame['error'].get('errorCode')}"] += 1
        elif frame.get("eventType") == "MessageCreated":
            self._hold(frame["data"]["message"])

    def _hold(self, message: dict[str, Any]) -> bool:
        """Takes a message pushed or recovered; False if it is already held (by message id)."""
        if message["id"] in self.held_ids:
            return False
        self.held_ids.add(message["id"])
        self.held_sequences.add(message["sequence"])
        if message["direction"] == "outbound":
            Phase.current.received(message["messageContent"]["payload"]["text"])
        return True

    def _contiguous(self) -> int:
        last = 0
        while last + 1 in self.held_sequences:
            last += 1
        return last

    async def _transmit(self, socket: ClientConnection, message_id: str) -> None:
        frame = send_message_frame(self.thread, message_id)
        self.in_flight[orjson.loads(frame)["eventId"]] = message_id
        await socket.send(frame)

    async def _request(self, socket: ClientConnection, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        frame = sdk_frame(event_type, data)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.requests[orjson.loads(frame)["eventId"]] = future
        await socket.send(frame)
        return await asyncio.wait_for(future, 300)

    async def _resume(self, socket: ClientConnection, backlog: list[str]) -> None:
        """On a new socket: the SendMessage frames left unanswered, then what the pushes missed."""
        try:
            for message_id in backlog:
                if message_id in self.unanswered:
                    Phase.current.resends += 1
                    await self._transmit(socket, message_id)
            thread = {"idOnExternalPlatform": self.thread}
            answer = await self._request(socket, "RecoverThread", {"thread": thread})
            key = "messagesScrollToken"
            while True:
                if "error" in answer:
                    self.clients.errors[f"visitor recovery refused: {answer['error'].get('reason')}"] += 1
                    return
                data = answer["postback"]["data"]
                messages, token = data.get("messages") or [], data.get(key) or ""
                Phase.current.recovered += sum(
                    1 for message in messages if self._hold(message) and message["direction"] == "outbound"
                )
                oldest = min(messages, key=lambda message: message["sequence"], default=None)
                if not token or oldest is None or oldest["sequence"] <= self._contiguous() + 1:
                    return
                Phase.current.pages += 1
                answer = await self._request(
                    socket,
                    "LoadMoreMessages",
                    {"scrollToken": token, "oldestMessageDatetime": oldest.get("createdAt", ""), "thread": thread},
                )
                key = "scrollToken"
        except (ConnectionClosed, TimeoutError):
            return  # the next socket starts over

    async def send_visitor(self, message_id: str) -> None:
        """Never refused by the bench itself: with no socket open the message waits for the next one."""
        self.unanswered[message_id] = None
        if self.connected.is_set() and self.visitor is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._transmit(self.visitor, message_id)

    async def send_agent(self, message_id: str) -> None:
        await self.clients.agent_send(self.index, message_id)

    async def close(self) -> None:
        self.closing = True
        await super().close()


# --- Phases -----------------------------------------------------------------------------


async def gather_limited(coroutines: list[Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine: Any) -> Any:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(coroutine) for coroutine in coroutines))


async def _drain(
    server: Server, recorder: Recorder, sending: Any = lambda: False, quiet: float = 15.0, cap: float = 900.0
) -> None:
    """Waits until every message arrived, or the server is idle and none arrived for ``quiet`` seconds.

    A server that is still working through a backlog is late, not lossy: only what never
    arrives once it is idle counts as lost. Clients still at work (reading answers, reopening
    sockets, resending, recovering) count as progress too, and so does a send still in progress
    (``sending()``): a message is not lost before its sender has finished sending it.
    """
    deadline = time.perf_counter() + cap
    last_count, last_progress = -1, time.perf_counter()
    cpu_mark, cpu_at = cpu_seconds(server.pid), time.perf_counter()
    while time.perf_counter() < deadline and not recorder.complete():
        now = time.perf_counter()
        if (recorder.delivered, Phase.activity) != last_count:  # a delivery, an answer, a socket reopened
            last_count, last_progress = (recorder.delivered, Phase.activity), now
        elif sending():
            last_progress = now
        elif now - cpu_at >= 1.0:
            cpu = cpu_seconds(server.pid)
            busy = (cpu - cpu_mark) / (now - cpu_at) > 0.05
            cpu_mark, cpu_at = cpu, now
            if busy:
                last_progress = now
            elif now - last_progress > quiet:
                return
        await asyncio.sleep(0.05)


async def on_schedule(rate: float, count: int, start: float) -> AsyncIterator[tuple[int, float]]:
    """Open loop: yields each number ``n`` below ``count`` with its scheduled time, ``start + n / rate``,
    once that time has come (at once when running late: latency runs from the scheduled time)."""
    for number in range(count):
        at = start + number / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        yield number, at


async def open_loop(
    server: Server, conversations: list[Conversation], rate: float, duration: float, tag: str
) -> dict[str, Any]:
    """Sends ``rate`` messages per second for ``duration`` seconds, alternating directions."""
    recorder = Phase.current = Recorder()
    count = int(rate * duration)
    start = time.perf_counter() + 0.2
    cpu_before = cpu_seconds(server.pid)
    sleeps_before = sleeps(server.pid)
    pauses_before = len(server.collector_pauses())
    database_before = database_cpu_seconds()
    client_before, machine_before, wall_before = own_cpu_seconds(), machine_cpu_seconds(), time.perf_counter()
    load = [os.getloadavg()[0]]
    pending: set[asyncio.Task[None]] = set()

    async def send(index: int, direction: str, message_id: str) -> None:
        conversation = conversations[index % len(conversations)]
        try:
            if direction == "v2a":
                await conversation.send_visitor(message_id)
            else:
                await conversation.send_agent(message_id)
        except Exception as error:
            recorder.send_errors += 1
            recorder.send_failures[f"{direction} {type(error).__name__}"] += 1
            recorder.refused.add(message_id)

    async for number, at in on_schedule(rate, count, start):
        direction = "v2a" if number % 2 == 0 else "a2v"
        index = number // 2 % len(conversations)
        message_id = f"{tag}-{direction}-{number}-{index}"
        recorder.expect(message_id, direction, at)
        task = asyncio.create_task(send(index, direction, message_id))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await _drain(server, recorder, sending=lambda: bool(pending))
    cpu = cpu_seconds(server.pid) - cpu_before
    slept = sleeps(server.pid) - sleeps_before
    client, machine = own_cpu_seconds() - client_before, machine_cpu_seconds()
    database_after = database_cpu_seconds()
    database = None if database_before is None or database_after is None else database_after - database_before
    wall = time.perf_counter() - wall_before
    busy, stolen = (after - before for after, before in zip(machine, machine_before, strict=True))
    load.append(os.getloadavg()[0])
    return {
        "offered_rate": rate,
        "refused": len(recorder.refused),
        "v2a_p50_ms": _ms(percentile(recorder.latency["v2a"], 0.5)),
        "v2a_p99_ms": _ms(percentile(recorder.latency["v2a"], 0.99)),
        "a2v_p50_ms": _ms(percentile(recorder.latency["a2v"], 0.5)),
        "a2v_p99_ms": _ms(percentile(recorder.latency["a2v"], 0.99)),
        "delivered": recorder.delivered,
        "lost": recorder.lost,
        "lost_by_direction": recorder.lost_by_direction(),
        "duplicated": recorder.duplicates,
        "send_errors": recorder.send_errors,
        "cpu_us_per_message": per_message_us(cpu, recorder.delivered),
        "wakeups_per_message": round(slept / recorder.delivered, 2) if recorder.delivered else None,
        "collector_pauses_ms": server.collector_pauses()[pauses_before:],
        # The machine's CPUs are shared by the server, the clients, PostgreSQL and Redis: how busy they were.
        "client_cpu_us_per_message": per_message_us(client, recorder.delivered),
        "database_cpu_us_per_message": per_message_us(database, recorder.delivered),
        "machine_busy_cpus": round(busy / wall, 2),
        "machine_steal_percent": round(100 * stolen / (wall * (os.cpu_count() or 1)), 1),
        **_failure_figures(recorder, conversations),
        "load_average": [round(value, 2) for value in load],
    }


MEDIANS = (
    "v2a_p50_ms",
    "v2a_p99_ms",
    "a2v_p50_ms",
    "a2v_p99_ms",
    "cpu_us_per_message",
    "wakeups_per_message",
    "client_cpu_us_per_message",
    "database_cpu_us_per_message",
    "machine_busy_cpus",
    "machine_steal_percent",
)


def merge_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs of one rate (``--repeat``) as one phase: the median of each latency and of CPU and
    wake-ups per message (a single 8 s phase moves with this machine's noise, ±15 % for CPU), the
    range of CPU per message, and the sum of everything counted (lost, duplicated, refused, …)."""
    if len(runs) == 1:
        return runs[0]
    merged = dict(runs[-1])
    for key, value in runs[-1].items():
        if key in MEDIANS:
            values = sorted(run[key] for run in runs if run.get(key) is not None)
            merged[key] = values[len(values) // 2] if values else None
        elif isinstance(value, int) and not isinstance(value, bool):
            merged[key] = sum(run.get(key) or 0 for run in runs)
    merged["collector_pauses_ms"] = [ms for run in runs for ms in run.get("collector_pauses_ms", [])]
    cpu = [run["cpu_us_per_message"] for run in runs if run.get("cpu_us_per_message") is not None]
    merged["cpu_us_per_message_range"] = [min(cpu), max(cpu)] if cpu else None
    merged["runs"] = runs
    return merged


def _failure_figures(recorder: Recorder, conversations: list[Conversation]) -> dict[str, Any]:
    """How the clients got through the phase: sockets reopened, frames resent, pushes recovered."""
    return {
        "reconnects": recorder.reconnects,
        "resends": recorder.resends,
        "recovered": recorder.recovered,
        "recovery_pages": recorder.pages,
        "new_tokens": recorder.new_tokens,
        "console_reconnects": recorder.console_reconnects,
        "closes": dict(recorder.closes),
        "send_failures": dict(recorder.send_failures),
        "unanswered_at_end": sum(conversation.unanswered_count() for conversation in conversations),
    }


async def burst(server: Server, conversations: list[Conversation], count: int, tag: str) -> dict[str, Any]:
    """Sends ``count`` visitor messages at once: saturation throughput, and nothing lost under overload."""
    recorder = Phase.current = Recorder()
    cpu_before = cpu_seconds(server.pid)
    load = [os.getloadavg()[0]]
    start = time.perf_counter()
    sends = []
    for number in range(count):
        message_id = f"{tag}-burst-{number}-{number % len(conversations)}"
        recorder.expect(message_id, "v2a", start)
        sends.append(conversations[number % len(conversations)].send_visitor(message_id))
    await asyncio.gather(*sends, return_exceptions=True)
    await _drain(server, recorder)
    cpu = cpu_seconds(server.pid) - cpu_before
    elapsed = (recorder.last_receipt or time.perf_counter()) - start
    return {
        "burst": count,
        "throughput_per_s": round(recorder.delivered / elapsed) if elapsed > 0 else None,
        "burst_p99_ms": _ms(percentile(recorder.latency["v2a"], 0.99)),
        "lost": recorder.lost,
        "lost_by_direction": recorder.lost_by_direction(),
        "duplicated": recorder.duplicates,
        "cpu_us_per_message": per_message_us(cpu, recorder.delivered),
        **_failure_figures(recorder, conversations),
        "load_average": [round(value, 2) for value in (*load, os.getloadavg()[0])],
    }


async def _connect_or_error(url: str) -> ClientConnection | BaseException:
    try:
        return await connect(url, ping_interval=None, open_timeout=60, max_size=2**20)
    except Exception as error:
        return error


async def idle_connections(server: Server, urls: list[str]) -> tuple[dict[str, Any], list[ClientConnection]]:
    """Opens the idle sockets at once (connection rate), then measures memory per socket."""
    gc.collect()
    await asyncio.sleep(1.0)
    before = rss_kib(server.pid)
    start = time.perf_counter()
    opened = await gather_limited([_connect_or_error(url) for url in urls], limit=256)
    elapsed = time.perf_counter() - start
    sockets = [socket for socket in opened if not isinstance(socket, BaseException)]
    failures = Counter(type(error).__name__ for error in opened if isinstance(error, BaseException))
    # A socket counts once the server answers on it: one heartbeat each.
    await asyncio.gather(*(socket.send('{"action":"heartbeat"}') for socket in sockets))
    await asyncio.gather(*(asyncio.wait_for(socket.recv(), 60) for socket in sockets), return_exceptions=True)
    await asyncio.sleep(2.0)
    after = rss_kib(server.pid)
    deflate = sum(
        1
        for socket in sockets
        if "permessage-deflate" in (socket.response.headers.get("Sec-WebSocket-Extensions") or "")
    )
    return {
        "idle": len(sockets),
        "idle_failed": dict(failures),
        "connections_per_s": round(len(sockets) / elapsed),
        "kib_per_idle_connection": round((after - before) / len(sockets), 1) if sockets else None,
        "deflate_negotiated": deflate,
    }, sockets


async def frame_limit(url: str) -> str:
    """What the server does with a 1 MiB text frame: it must refuse it."""
    try:
        async with connect(url, ping_interval=None, max_size=2**21) as socket:
            await socket.send(_dumps({"action": "heartbeat", "padding": "x" * 2**20}))
            try:
                answer = await asyncio.wait_for(socket.recv(), 10)
            except ConnectionClosed as closed:
                return f"closed {closed.rcvd.code if closed.rcvd else 'abnormally'}"
            except TimeoutError:
                return "no answer"
            if "frame_too_large" in str(answer) or "error" in str(answer)[:200]:
                return "error frame"
            return "accepted"
    except ConnectionClosed as closed:
        return f"closed {closed.rcvd.code if closed.rcvd else 'abnormally'}"
    except Exception as error:
        return f"connect failed ({type(error).__name__})"


async def idle_cpu(server: Server, seconds: float = 5.0) -> float:
    """The server's CPU per second with every conversation's sockets open and no message: what a
    rate phase's CPU per message includes besides the messages (timers, pings, the layer's upkeep)."""
    before, at = cpu_seconds(server.pid), time.perf_counter()
    await asyncio.sleep(seconds)
    return round((cpu_seconds(server.pid) - before) / (time.perf_counter() - at) * 1000, 2)


async def _settle(server: Server, cap: float = 180.0) -> None:
    """Waits until the server is idle (under 5 % of a CPU for half a second), so phases do not overlap."""
    deadline = time.perf_counter() + cap
    while time.perf_counter() < deadline:
        before = cpu_seconds(server.pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(server.pid) - before < 0.025:
            return


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


# --- Large events ---------------------------------------------------------------------------

LARGE_SHARE = 0.01  # of the requests offered in the mixed run
LARGE_VISITORS = 4  # visitors whose customer has a thread of large messages
LARGE_CARD_CHARS = 60_000  # one adaptive card just under the 64 KiB content limit (chat/content.py)
LARGE_MESSAGES = 16  # cards in the thread: its history answer (a page of up to 20) is about 1 MB
LARGE_INLINE_BYTES = 1_000_000  # the bare relay's comparable: a 1 MB message relayed inline


class LargeRecorder:
    """Large requests of one run: scheduled time, the frame in hand, and what went wrong."""

    def __init__(self) -> None:
        self.scheduled: dict[str, float] = {}
        self.resolved: set[str] = set()
        self.latency: list[float] = []  # scheduled -> the whole ~1 MB frame in hand
        self.fetch: list[float] = []  # EventInS3 received -> its URL fetched (Parley only)
        self.sizes: list[int] = []
        self.failures: Counter[str] = Counter()

    def delivered(self, key: str, size: int, fetch: float | None = None) -> None:
        if key not in self.scheduled or key in self.resolved:
            self.failures["unexpected or repeated"] += 1
            return
        self.resolved.add(key)
        self.latency.append(time.perf_counter() - self.scheduled[key])
        self.sizes.append(size)
        if fetch is not None:
            self.fetch.append(fetch)

    def failed(self, key: str | None, why: str) -> None:
        self.failures[why] += 1
        if key in self.scheduled:
            self.resolved.add(key)

    def complete(self) -> bool:
        return len(self.resolved) >= len(self.scheduled)

    def figures(self, way: str) -> dict[str, Any]:
        return {
            "way": way,
            "sent": len(self.scheduled),
            "delivered": len(self.sizes),
            "failed": dict(self.failures),
            "lost": len(self.scheduled) - len(self.resolved),
            "p50_ms": _ms(percentile(self.latency, 0.5)),
            "p99_ms": _ms(percentile(self.latency, 0.99)),
            "fetch_p50_ms": _ms(percentile(self.fetch, 0.5)),
            "fetch_p99_ms": _ms(percentile(self.fetch, 0.99)),
            "bytes_per_event": round(sum(self.sizes) / len(self.sizes)) if self.sizes else None,
        }


def fetch_large_frame(url: str, key: str | None) -> tuple[str | None, int, float]:
    """In a fetching process: ``GET`` the URL; the body must be the answer to ``key`` with every
    card. Returns what went wrong (None: nothing), the body's size and the GET's seconds."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        return f"fetch {error.code}", 0, 0.0
    except (OSError, ValueError) as error:
        return f"fetch {type(error).__name__}", 0, 0.0
    fetched = time.perf_counter() - started
    try:
        frame = orjson.loads(body)
        postback, event_id = frame.get("postback") or {}, frame.get("eventId")
    except (ValueError, AttributeError):
        return "fetched a body that is not a frame", 0, fetched
    messages = (postback.get("data") or {}).get("messages") or []
    if event_id != key or postback.get("eventType") != "ThreadRecovered" or len(messages) < LARGE_MESSAGES:
        return "fetched the wrong frame", 0, fetched
    return None, len(body), fetched


def _fetchers() -> concurrent.futures.ProcessPoolExecutor:
    """Two fetching processes, started (and their imports done) before anything is measured."""
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
    list(pool.map(time.sleep, [0.2, 0.2]))
    return pool


class LargeVisitor:
    """A visitor (own customer, own socket) whose thread holds LARGE_MESSAGES adaptive cards.

    Its RecoverThread answer is about 1 MB, so Parley sends it as ``EventInS3``; like the
    SDK, the visitor fetches the URL over HTTP and handles the body as the answer.
    """

    def __init__(
        self, clients: ParleyClients, number: int, fetchers: concurrent.futures.Executor, recorder: LargeRecorder
    ) -> None:
        self.clients = clients
        self.number = number
        self.fetchers = fetchers
        self.recorder = recorder
        self.thread = f"{clients.server.name}-large-t{number}"
        self.socket: ClientConnection | None = None
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        # Large requests not answered yet, oldest first: a socket's requests are answered in
        # order, so an EventInS3 (which carries no request id) answers the oldest.
        self.outstanding: collections.deque[str] = collections.deque()
        self.urls: list[str] = []
        self.tasks: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        token = await self.clients.token(f"bench-{self.clients.server.name}-large-{self.number}")
        self.socket = await connect(
            self.clients.visitor_url(token, f"large{self.number}"), ping_interval=None, max_size=2**20
        )
        self._spawn(self._read())

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _read(self) -> None:
        assert self.socket is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.socket:
                if raw == '"pong"':
                    continue
                frame = orjson.loads(raw)
                if frame.get("eventType") == "EventInS3":
                    key = self.outstanding.popleft() if self.outstanding else None
                    self.urls.append(frame["data"]["s3Object"]["url"])
                    self._spawn(self._fetch(key, self.urls[-1]))
                    continue
                event_id = frame.get("eventId")
                future = self.waiting.pop(event_id, None)
                if future is not None and not future.done():
                    future.set_result(frame)
                elif event_id in self.outstanding:
                    self.outstanding.remove(event_id)
                    reason = frame["error"].get("reason") if "error" in frame else "answered inline"
                    self.recorder.failed(event_id, f"large request: {reason}")

    async def _fetch(self, key: str | None, url: str) -> None:
        """``GET`` the URL as the SDK does, in a process of ``self.fetchers`` (the SDK's browser
        fetches in its network process): the clients' loop, which timestamps the small messages,
        never reads or parses the 1 MB itself."""
        problem, size, fetched = await asyncio.get_running_loop().run_in_executor(
            self.fetchers, fetch_large_frame, url, key
        )
        if problem is not None:
            self.recorder.failed(key, problem)
            return
        self.recorder.delivered(key, size, fetched)

    async def request(self, event_type: str, data: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        assert self.socket is not None
        frame = sdk_frame(event_type, data)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[orjson.loads(frame)["eventId"]] = future
        await self.socket.send(frame)
        return await asyncio.wait_for(future, timeout)

    async def seed(self) -> None:
        """The thread (a first message), then the cards, posted by the agent over the REST API."""
        opening = send_message_frame(self.thread, f"large-{self.clients.server.name}-{self.number}")
        answer = await self.request("SendMessage", orjson.loads(opening)["payload"]["data"])
        if "error" in answer:
            raise RuntimeError(f"large thread refused: {answer['error']}")
        answer = await self.request("RecoverThread", {"thread": {"idOnExternalPlatform": self.thread}})
        thread_id = answer["postback"]["data"]["thread"]["id"]
        card = {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [{"type": "TextBlock", "wrap": True, "text": "Lorem ipsum " * (LARGE_CARD_CHARS // 12)}],
        }
        for index in range(LARGE_MESSAGES):
            response = await self.clients.http.post(
                f"/api/v1/threads/{thread_id}/messages/",
                json={
                    "content_type": "ADAPTIVE_CARD",
                    "content": {"payload": card, "fallbackText": "A long card"},
                    "client_id": f"large-card-{index}-{self.number}",
                },
                headers={"Authorization": f"Token {self.clients.api_token}"},
            )
            if response.status_code >= 300:
                raise RuntimeError(f"large card refused with {response.status_code}: {response.text[:200]}")

    async def recover(self, event_id: str) -> None:
        """The large request: RecoverThread of the card thread, answered through a URL."""
        assert self.socket is not None
        frame = orjson.loads(sdk_frame("RecoverThread", {"thread": {"idOnExternalPlatform": self.thread}}))
        frame["eventId"] = event_id
        self.outstanding.append(event_id)
        await self.socket.send(_dumps(frame))

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.socket is not None:
            await self.socket.close()
        self.remove_stored()

    def remove_stored(self) -> None:
        """Deletes the events this visitor was sent from the server's media folder (the bench's server
        stores them on the local disk, under the name its URL signs: ``large-events/…:<signature>``);
        the product's hourly sweep would, but a full run leaves about 100 MB until then."""
        media = Path(os.environ.get("MEDIA_ROOT") or ROOT / "var" / "media")
        for url in self.urls:
            name = urllib.parse.unquote(url.partition("/chat/1.0/event/")[2]).split(":", 1)[0]
            if name.startswith("large-events/") and ".." not in name:
                (media / name).unlink(missing_ok=True)


class WideBareRelay(BareRelay):
    """The bare relay letting 2 MiB frames through: it relays a 1 MB message inline (it has no URL way)."""

    name = "bare-large"

    def command(self) -> list[str]:
        return [*super().command(), "--max-size", str(2**21)]


class LargeBareConversation(BareConversation):
    """A bare conversation whose visitor also takes 1 MB frames: a large one counts in ``large``."""

    def __init__(self, index: int, port: int, large: LargeRecorder) -> None:
        super().__init__(index, port)
        self.large = large

    async def open(self) -> None:
        base = f"ws://127.0.0.1:{self.port}"
        self.visitor = await connect(f"{base}/visitor?c={self.index}", ping_interval=None, max_size=2**21)
        self.agent = await connect(f"{base}/agent?c={self.index}", ping_interval=None, max_size=2**21)
        self.tasks = [asyncio.create_task(self._read_visitor()), asyncio.create_task(_read_bare(self.agent))]

    async def _read_visitor(self) -> None:
        assert self.visitor is not None
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.visitor:
                if frame == '"pong"':
                    continue
                text = orjson.loads(frame)["payload"]["data"]["messageContent"]["payload"]["text"]
                if len(frame) > 2**17:
                    self.large.delivered(text, len(frame))
                else:
                    Phase.current.received(text)

    async def send_large(self, message_id: str, padding: str) -> None:
        assert self.agent is not None
        frame = orjson.loads(send_message_frame(self.thread, message_id))
        frame["payload"]["data"]["messageContent"]["payload"]["padding"] = padding
        await self.agent.send(_dumps(frame))


async def _large_loop(rate: float, duration: float, recorder: LargeRecorder, send: Any, tag: str) -> None:
    """Open loop of large requests (``send(number, key)``), half an interval out of step with the small ones."""
    count = max(1, int(rate * duration))
    start = time.perf_counter() + 0.2 + 0.5 / rate
    pending: set[asyncio.Task[None]] = set()
    async for number, at in on_schedule(rate, count, start):
        key = f"{tag}-large-{number}-{uuid.uuid4().hex[:8]}"
        recorder.scheduled[key] = at

        async def run(key: str = key, number: int = number) -> None:
            try:
                await send(number, key)
            except Exception as error:
                recorder.failed(key, f"send {type(error).__name__}")

        task = asyncio.create_task(run())
        pending.add(task)
        task.add_done_callback(pending.discard)
    deadline = time.perf_counter() + 60
    while not recorder.complete() and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)


async def _large_cost(server: Server, quiet: LargeRecorder, send: Any, count: int = 4) -> float:
    """Server CPU per large event, one at a time on an idle server; each must arrive whole."""
    await _settle(server)
    cpu = 0.0
    for number in range(count):
        key = f"{server.name}-quiet-{number}"
        quiet.scheduled[key] = time.perf_counter()
        before = cpu_seconds(server.pid)
        await send(number, key)
        deadline = time.perf_counter() + 60
        while not quiet.complete() and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the server's last writes after the client has it all
        cpu += cpu_seconds(server.pid) - before
    return round(cpu / count * 1000, 1)


def _small_figures(runs: list[dict[str, Any]], latency: list[float]) -> dict[str, Any]:
    """Small messages of one kind of run: both directions' p50/p99 together, and the runs' own figures."""
    return {
        "small_p50_ms": _ms(percentile(latency, 0.5)),
        "small_p99_ms": _ms(percentile(latency, 0.99)),
        "delivered": sum(run["delivered"] for run in runs),
        "lost": sum(run["lost"] for run in runs),
        "duplicated": sum(run["duplicated"] for run in runs),
        "refused": sum(run["refused"] for run in runs),
        "collector_pauses_ms": [ms for run in runs for ms in run.get("collector_pauses_ms", [])],
        "runs": runs,
    }


async def large_events(server: Server, conversations: list[Conversation], plan: Plan) -> dict[str, Any]:
    """Small messages at the first rate alone, then with 1 % of the requests a ~1 MB answer.

    Parley: the large request is RecoverThread of a thread of cards; the answer comes as
    ``EventInS3`` and the client fetches its URL. Bare relay: a 1 MB message relayed inline,
    on a relay started for this phase (the bench's own refuses frames over 128 KiB).
    """
    rate, duration = plan.rates[0], plan.large_seconds
    load, started = [round(os.getloadavg()[0], 2)], time.perf_counter()
    recorder = LargeRecorder()
    wide: WideBareRelay | None = None
    visitors: list[LargeVisitor] = []
    bare: list[LargeBareConversation] = []
    profiler: subprocess.Popen[bytes] | None = None
    fetchers: concurrent.futures.ProcessPoolExecutor | None = None
    try:
        if isinstance(server, BareRelay):
            wide = WideBareRelay()
            await wide.start()
            server = wide
            bare.extend(LargeBareConversation(index, wide.port, recorder) for index in range(len(conversations)))
            await gather_limited([conversation.open() for conversation in bare], limit=64)
            conversations = list(bare)
            padding = "x" * LARGE_INLINE_BYTES

            async def send(number: int, key: str) -> None:
                await bare[number * 7 % len(bare)].send_large(key, padding)

            def record(into: LargeRecorder) -> None:
                for conversation in bare:
                    conversation.large = into

            way = "inline"
        else:
            clients = conversations[0].clients  # type: ignore[attr-defined]
            fetchers = _fetchers()
            visitors = [LargeVisitor(clients, number, fetchers, recorder) for number in range(LARGE_VISITORS)]
            await asyncio.gather(*(visitor.open() for visitor in visitors))
            await asyncio.gather(*(visitor.seed() for visitor in visitors))

            async def send(number: int, key: str) -> None:
                await visitors[number % len(visitors)].recover(key)

            def record(into: LargeRecorder) -> None:
                for visitor in visitors:
                    visitor.recorder = into

            way = "URL (EventInS3)"
        profiler = None if wide is not None else _profiler(server, "-large")
        quiet = LargeRecorder()
        record(quiet)
        cost = await _large_cost(server, quiet, send)
        record(recorder)
        recorder.failures.update({f"one at a time: {why}": n for why, n in quiet.failures.items()})
        if not quiet.complete():
            recorder.failures["one at a time: never fetched"] += len(quiet.scheduled) - len(quiet.resolved)
        runs: dict[str, list[dict[str, Any]]] = {"alone": [], "mixed": []}
        latency: dict[str, list[float]] = {"alone": [], "mixed": []}
        # Two halves of each kind, mixed, alone, alone, mixed: a drift of the machine's load
        # (other processes share its CPUs) weighs on both kinds alike, and what the seeding
        # leaves behind weighs on the mixed side (the target's side).
        for number, kind in enumerate(("mixed", "alone", "alone", "mixed")):
            await _settle(server)
            tag = f"{server.name}-{kind}{number}"
            if kind == "alone":
                result = await open_loop(server, conversations, rate, duration / 2, tag)
            else:
                result, _ = await asyncio.gather(
                    open_loop(server, conversations, rate * (1 - LARGE_SHARE), duration / 2, tag),
                    _large_loop(rate * LARGE_SHARE, duration / 2, recorder, send, tag),
                )
            runs[kind].append(result)
            latency[kind] += Phase.current.latency["v2a"] + Phase.current.latency["a2v"]
        load.append(round(os.getloadavg()[0], 2))
        small = {kind: _small_figures(runs[kind], latency[kind]) for kind in runs}
        alone_p99, mixed_p99 = small["alone"]["small_p99_ms"], small["mixed"]["small_p99_ms"]
        large = {**recorder.figures(way), "cpu_ms_per_event": cost}
        return {
            "rate": rate,
            "seconds": duration,
            **small,
            "small_p99_ratio": round(mixed_p99 / alone_p99, 2) if mixed_p99 and alone_p99 else None,
            "large": large,
            "load_average": load,
            "phase_seconds": round(time.perf_counter() - started),
        }
    except Exception as error:  # a benchmark prints what went wrong and goes on with the other phases
        return {"error": f"{type(error).__name__}: {error}"}
    finally:
        if profiler is not None and profiler.poll() is None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        await asyncio.gather(*(visitor.close() for visitor in visitors), return_exceptions=True)
        if fetchers is not None:
            fetchers.shutdown(cancel_futures=True)
        await asyncio.gather(*(conversation.close() for conversation in bare), return_exceptions=True)
        if wide is not None:
            await wide.stop()


# --- Runs ---------------------------------------------------------------------------------

BARE_RELAYS: dict[str, type[BareRelay]] = {"bare": BareRelay, "bare-deflate": DeflateBareRelay}


async def run_bare(plan: Plan, name: str = "bare") -> dict[str, Any]:
    server = BARE_RELAYS[name]() if name in BARE_RELAYS else StackRelay(name)
    await server.start()
    try:
        conversations: list[Conversation] = []
        for index in range(plan.conversations):
            conversation = BareConversation(index, server.port)
            await conversation.open()
            conversations.append(conversation)
        return await _measure(
            server, conversations, [f"ws://127.0.0.1:{server.port}/visitor?c=idle-{n}" for n in range(plan.idle)], plan
        )
    finally:
        await server.stop()


async def commit_floor(database_url: str, rate: float, duration: float, connections: int = 64) -> dict[str, Any]:
    """The storage's floor for a persisted message: one-row INSERTs, each committed on its own, at
    ``rate`` a second for ``duration`` seconds, open loop (latency from the scheduled time) on
    ``connections`` connections (enough that a commit seldom waits for a free one: what a pipelined
    writer gets), on the bench database with its own ``synchronous_commit``. With it on, a commit
    waits for PostgreSQL to flush its WAL to disk: a stall of the disk's flush holds every message
    written meanwhile, whatever the server in front of it does."""
    latencies: list[float] = []
    pool = psycopg_pool.AsyncConnectionPool(
        database_url, min_size=connections, max_size=connections, kwargs={"autocommit": True}, open=False
    )
    async with pool:
        async with pool.connection() as link:
            await link.execute(
                "CREATE TABLE IF NOT EXISTS bench_commit (id bigserial PRIMARY KEY, at double precision)"
            )
            setting = (await (await link.execute("SHOW synchronous_commit")).fetchone() or ("?",))[0]
        await pool.wait()  # every connection open before the clock starts

        async def commit(at: float) -> None:
            async with pool.connection() as link:
                await link.execute("INSERT INTO bench_commit (at) VALUES (%s)", [at])
            latencies.append(time.perf_counter() - at)

        tasks: list[asyncio.Task[None]] = []
        try:
            async for _, at in on_schedule(rate, int(rate * duration), time.perf_counter() + 0.1):
                tasks.append(asyncio.create_task(commit(at)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:  # a failed commit: the others stop before the pool closes
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "offered_rate": rate,
        "synchronous_commit": setting,
        "connections": connections,
        "seconds": duration,
        "commits": len(latencies),
        "p50_ms": _ms(percentile(latencies, 0.5)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "max_ms": _ms(max(latencies)),
        "over_50_ms": sum(1 for latency in latencies if latency > 0.05),
    }


async def run_parley(
    plan: Plan, name: str, environment: dict[str, str], api_token: str, session: str
) -> dict[str, Any]:
    server = Parley(name, environment, plan.workers)
    await server.start()
    clients = ParleyClients(server, api_token, session, plan.conversations, plan.agent_replies)
    try:
        await clients.start_agent(plan.agents)
        conversations: list[Conversation] = [ParleyConversation(index, clients) for index in range(plan.conversations)]
        await gather_limited([conversation.open() for conversation in conversations], limit=32)  # type: ignore[attr-defined]
        workers = server.worker_pids()
        processes = _placement(server, clients, conversations, workers)
        tokens = await gather_limited([clients.token(f"idle-{name}-{n}") for n in range(plan.idle)], limit=32)
        urls = [clients.visitor_url(token, f"idle{n}") for n, token in enumerate(tokens)]
        figures = await _measure(server, conversations, urls, plan)
        figures["errors"] = dict(clients.errors)
        figures["console_reconnects"] = clients.reconnects
        figures["processes"] = processes
        # CPU seconds of each process since it started (the console's worker carries the tenant's fan-in).
        processes["cpu_s"] = [
            round(sum(int(value) for value in (_stat(pid) or [0] * 13)[11:13]) / CLOCK_TICK, 1)
            for pid in processes["pids"]
        ]
        restarted = sorted(set(workers) - set(server.worker_pids()))
        if restarted:  # uvicorn kills a worker that misses its health check and starts another
            figures["processes"]["workers_replaced"] = restarted
        return figures
    finally:
        await clients.close()
        await server.stop()


def _placement(
    server: Parley, clients: ParleyClients, conversations: list[Conversation], workers: list[int]
) -> dict[str, Any]:
    """Which process serves the console and how many visitors each serves (the kernel spreads them)."""
    owners = socket_owners(server.pid, server.port)

    def worker_of(socket: ClientConnection | None) -> int | None:
        pid = owners.get(socket.local_address[1]) if socket is not None else None
        return workers.index(pid) + 1 if pid in workers else None

    visitors = Counter(worker_of(conversation.visitor) for conversation in conversations)
    return {
        "workers": len(workers),
        "pids": [server.pid, *workers] if server.workers > 1 else workers,
        "consoles_on": [worker_of(console) for console in clients.live.values()],
        "visitors_per_worker": [visitors.get(number, 0) for number in range(1, len(workers) + 1)],
        "visitors_unplaced": visitors.get(None, 0),
    }


PROFILE_DIR: Path | None = None


def _profiler(server: Server, phase: str = "") -> subprocess.Popen[bytes] | None:
    """py-spy over the rate and burst phases, as collapsed stacks (``--profile DIR``)."""
    if PROFILE_DIR is None or server.name == "bare":
        return None
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    output = PROFILE_DIR / f"{server.name}{phase}.txt"
    command = [
        str(BIN / "py-spy"),
        "record",
        "--gil",
        "-p",
        str(server.pid),
        *(["--subprocesses"] if getattr(server, "workers", 1) > 1 else []),
        "-f",
        "raw",
        "-r",
        "200",
        "-o",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _measure(
    server: Server, conversations: list[Conversation], idle_urls: list[str], plan: Plan
) -> dict[str, Any]:
    """Every phase against one server, the client's own garbage collector paused: holding thousands
    of sockets, its full collections took 80 to 175 ms, which the latencies of whichever server was
    measured would count (the relay's too). It collects between servers instead."""
    gc.collect()
    gc.disable()
    try:
        return await _phases(server, conversations, idle_urls, plan)
    finally:
        gc.enable()
        gc.collect()


async def _phases(
    server: Server, conversations: list[Conversation], idle_urls: list[str], plan: Plan
) -> dict[str, Any]:
    figures: dict[str, Any] = {"server": server.name, "conversations": len(conversations)}
    await open_loop(server, conversations, min(plan.rates[0], 100.0), 2.0, f"{server.name}-warm")
    await _settle(server)
    figures["idle_cpu_ms_per_s"] = await idle_cpu(server)
    profiler = _profiler(server)
    figures["rates"] = []
    for rate in plan.rates:
        runs = []
        for run in range(plan.repeat):
            await _settle(server)
            tag = f"{server.name}-r{int(rate)}" + (f"-{run}" if run else "")
            runs.append(await open_loop(server, conversations, rate, plan.duration, tag))
        figures["rates"].append(merge_runs(runs))
    await _settle(server)
    figures["burst"] = await burst(server, conversations, plan.burst, server.name)
    await _settle(server)
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=60)
    if plan.large_seconds > 0:
        figures["large_events"] = await large_events(server, conversations, plan)
    figures["frame_limit"] = await frame_limit(idle_urls[0])
    profiler = _profiler(server, "-connect")
    idle, sockets = await idle_connections(server, idle_urls[1:])
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=60)
    figures.update(idle)
    await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
    await asyncio.gather(*(conversation.close() for conversation in conversations), return_exceptions=True)
    return figures


SESSION_SCRIPT = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user = get_user_model().objects.get(username="acme-admin")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def prepare_database(
    admin_url: str, name: str, environment: dict[str, str], synchronous_commit: str = "on"
) -> tuple[str, str]:
    """Recreates, migrates and seeds the bench database; returns the administrator's API token and session.
    Its connections get ``synchronous_commit`` (PostgreSQL's per-database default)."""
    if synchronous_commit not in ("on", "off"):
        raise ValueError(f"synchronous_commit is on or off, not {synchronous_commit!r}")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
        # Set for this role in this database: it overrides a setting of the role or of the database alone.
        connection.execute(
            f'ALTER ROLE CURRENT_USER IN DATABASE "{name}" SET synchronous_commit = {synchronous_commit}'
        )
    manage = [sys.executable, "manage.py"]
    for arguments in (["migrate", "--noinput", "-v0"], ["seed_demo", "--force"]):
        subprocess.run(
            [*manage, *arguments], cwd=ROOT, env={**os.environ, **environment}, check=True, stdout=subprocess.DEVNULL
        )
    token = subprocess.run(
        [*manage, "create_api_token", "acme-admin"],
        cwd=ROOT,
        env={**os.environ, **environment},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    session = subprocess.run(
        [*manage, "shell", "-c", SESSION_SCRIPT],
        cwd=ROOT,
        env={**os.environ, **environment},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    return token, session


def server_environment(database_url: str, redis_url: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "PARLEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "PARLEY_PUBLIC_URL": "http://127.0.0.1",
        "PARLEY_ALLOW_HTTP": "true",
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "WARNING",
    }


# --- Report --------------------------------------------------------------------------------


def _pauses(pauses_ms: list[float] | None) -> str:
    """The collector's pauses of GC_PAUSE_LOG_MS or more in a phase: their count, times, the longest, ms."""
    if pauses_ms is None:
        return ""
    return f"{len(pauses_ms)}×{max(pauses_ms):.0f}" if pauses_ms else "0"


COLUMNS = [
    ("v→a p50 ms", lambda f, i: f["rates"][i]["v2a_p50_ms"]),
    ("v→a p99 ms", lambda f, i: f["rates"][i]["v2a_p99_ms"]),
    ("a→v p50 ms", lambda f, i: f["rates"][i]["a2v_p50_ms"]),
    ("a→v p99 ms", lambda f, i: f["rates"][i]["a2v_p99_ms"]),
    ("CPU µs/msg", lambda f, i: f["rates"][i]["cpu_us_per_message"]),
    ("CPU range", lambda f, i: "–".join(f"{v:g}" for v in f["rates"][i].get("cpu_us_per_message_range") or [])),
    ("wakeups/msg", lambda f, i: f["rates"][i].get("wakeups_per_message")),
    ("GC pauses", lambda f, i: _pauses(f["rates"][i].get("collector_pauses_ms"))),
    ("client µs/msg", lambda f, i: f["rates"][i].get("client_cpu_us_per_message")),
    ("DB µs/msg", lambda f, i: f["rates"][i].get("database_cpu_us_per_message")),
    ("busy CPUs", lambda f, i: f["rates"][i].get("machine_busy_cpus")),
    ("steal %", lambda f, i: f["rates"][i].get("machine_steal_percent")),
    ("lost/dup", lambda f, i: f"{f['rates'][i]['lost']}/{f['rates'][i]['duplicated']}"),
    ("refused", lambda f, i: f["rates"][i].get("refused", 0)),
    ("reconn/resend", lambda f, i: f"{f['rates'][i].get('reconnects', 0)}/{f['rates'][i].get('resends', 0)}"),
]
SUMMARY = [
    ("idle CPU ms/s", lambda f: f["idle_cpu_ms_per_s"]),
    ("burst msg/s", lambda f: f["burst"]["throughput_per_s"]),
    ("burst CPU µs/msg", lambda f: f["burst"]["cpu_us_per_message"]),
    ("burst lost/dup", lambda f: f"{f['burst']['lost']}/{f['burst']['duplicated']}"),
    ("KiB/idle conn", lambda f: f["kib_per_idle_connection"]),
    ("deflate", lambda f: f"{f['deflate_negotiated']}/{f['idle']}"),
    ("conn/s", lambda f: f["connections_per_s"]),
    ("1 MiB frame", lambda f: f["frame_limit"]),
]
RATIO_COLUMNS = {"v→a p50 ms", "v→a p99 ms", "a→v p50 ms", "a→v p99 ms", "CPU µs/msg"}
RATIO_SUMMARY = {"burst msg/s", "burst CPU µs/msg", "KiB/idle conn", "conn/s"}


def _ratio(value: Any, base: Any) -> str:
    if isinstance(value, int | float) and isinstance(base, int | float) and base:
        return f"{value / base:.1f}x"
    return "-"


LARGE_SMALL_COLUMNS = [
    ("p50 alone→mixed", lambda f: f"{f['alone']['small_p50_ms']}→{f['mixed']['small_p50_ms']}"),
    ("p99 alone→mixed", lambda f: f"{f['alone']['small_p99_ms']}→{f['mixed']['small_p99_ms']}"),
    ("p99 ratio", lambda f: f["small_p99_ratio"]),
    (
        "GC alone/mixed",
        lambda f: (
            f"{_pauses(f['alone'].get('collector_pauses_ms'))} / {_pauses(f['mixed'].get('collector_pauses_ms'))}"
        ),
    ),
    ("lost/dup", lambda f: "/".join(str(f["alone"][key] + f["mixed"][key]) for key in ("lost", "duplicated"))),
    ("load avg", lambda f: "→".join(str(load) for load in f["load_average"])),
    ("phase s", lambda f: f["phase_seconds"]),
]
LARGE_COLUMNS = [
    ("sent/failed/lost", lambda f: f"{f['sent']}/{sum(f['failed'].values())}/{f['lost']}"),
    ("p50/p99 ms", lambda f: f"{f['p50_ms']}/{f['p99_ms']}"),
    ("fetch p50/p99 ms", lambda f: f"{f['fetch_p50_ms']}/{f['fetch_p99_ms']}"),
    ("bytes/event", lambda f: f["bytes_per_event"]),
    ("CPU ms/event", lambda f: f.get("cpu_ms_per_event")),
    ("way", lambda f: f["way"]),
]


def _large_report(results: list[dict[str, Any]]) -> list[str]:
    """Small messages alone and with 1 % large requests (target: p99 ratio ≤ 1.20 within Parley)."""
    failed = [
        f"{f['server']} large events: {f['large_events']['error']}"
        for f in results
        if "error" in f.get("large_events", {})
    ]
    measured = [figures for figures in results if "alone" in figures.get("large_events", {})]
    if not measured:
        return failed
    first = measured[0]["large_events"]
    lines = [
        "",
        f"large events: {first['rate']:g} msg/s, {first['seconds']:g} s alone and {first['seconds']:g} s with "
        f"{LARGE_SHARE:.0%} of requests answered by ~1 MB; small messages, ms (target p99 ratio ≤ 1.20)",
        f"{'server':<10}" + "".join(f"{name:>18}" for name, _ in LARGE_SMALL_COLUMNS),
    ]
    for figures in measured:
        large = figures["large_events"]
        lines.append(f"{figures['server']:<10}" + "".join(f"{get(large)!s:>18}" for _, get in LARGE_SMALL_COLUMNS))
    lines.append("the large events (from the scheduled send to the whole frame in hand; fetch: the URL's GET)")
    lines.append(f"{'server':<10}" + "".join(f"{name:>18}" for name, _ in LARGE_COLUMNS))
    for figures in measured:
        large = figures["large_events"]["large"]
        lines.append(f"{figures['server']:<10}" + "".join(f"{get(large)!s:>18}" for _, get in LARGE_COLUMNS))
        if large["failed"]:
            lines.append(f"{figures['server']} large failures: {large['failed']}")
    return lines + failed


def report(results: list[dict[str, Any]], plan: Plan, commits: list[dict[str, Any]] | None = None) -> str:
    bare = results[0]
    lines = [
        f"conversations: {plan.conversations}; machine: {os.cpu_count()} CPUs; rates offered half each way"
        + (f"; uvicorn with {plan.workers} worker processes" if plan.workers > 1 else "")
        + (f"; synchronous_commit={plan.synchronous_commit}" if plan.synchronous_commit != "on" else ""),
        "",
    ]
    for index, rate in enumerate(plan.rates):
        lines.append(f"open loop at {rate:g} msg/s for {plan.duration:g} s")
        header = f"{'server':<10}" + "".join(f"{name:>14}" for name, _ in COLUMNS)
        lines.append(header)
        for figures in results:
            row = f"{figures['server']:<10}" + "".join(f"{get(figures, index)!s:>14}" for _, get in COLUMNS)
            lines.append(row)
            if figures is not bare:
                ratios = f"{'  ÷ bare':<10}" + "".join(
                    f"{_ratio(get(figures, index), get(bare, index)) if name in RATIO_COLUMNS else '':>14}"
                    for name, get in COLUMNS
                )
                lines.append(ratios)
        lines.append("")
    lines.append(f"{'server':<10}" + "".join(f"{name:>18}" for name, _ in SUMMARY))
    for figures in results:
        lines.append(f"{figures['server']:<10}" + "".join(f"{get(figures)!s:>18}" for _, get in SUMMARY))
        if figures is not bare:
            lines.append(
                f"{'  ÷ bare':<10}"
                + "".join(
                    f"{_ratio(get(figures), get(bare)) if name in RATIO_SUMMARY else '':>18}" for name, get in SUMMARY
                )
            )
    lines.extend(_commit_report(commits or []))
    lines.extend(_large_report(results))
    lines.extend(_failure_report(results, plan))
    for figures in results:
        if figures.get("errors"):
            lines.append(f"{figures['server']} errors: {figures['errors']}")
    return "\n".join(lines)


def _commit_report(commits: list[dict[str, Any]]) -> list[str]:
    """The storage's floor (commit_floor): what a persisted message's latency cannot go below here."""
    if not commits:
        return []
    lines = [
        "",
        f"PostgreSQL commits alone (one-row INSERT each, open loop, {commits[0]['connections']} connections): "
        "the storage's floor",
    ]
    heads = ("seconds", "sync commit", "p50 ms", "p99 ms", "max ms", "> 50 ms")
    lines.append(f"{'rate/s':<10}" + "".join(f"{head:>12}" for head in heads))
    for c in commits:
        lines.append(
            f"{c['offered_rate']:<10g}{c['seconds']:>12g}{c['synchronous_commit']:>12}{c['p50_ms']!s:>12}"
            f"{c['p99_ms']!s:>12}{c['max_ms']!s:>12}{c['over_50_ms']:>12}"
        )
    return lines


def _failure_report(results: list[dict[str, Any]], plan: Plan) -> list[str]:
    """Per Parley server: its processes, the load average, and how the clients got through each phase."""
    lines = ["", "clients under failure (visitors reopen, resend unanswered SendMessage, recover missed pushes)"]
    for figures in results[1:]:
        where = figures.get("processes") or {}
        if where.get("workers", 1) > 1:
            lines.append(
                f"{figures['server']}: {where['workers']} workers + parent (pids {where['pids']}, CPU s "
                f"{where.get('cpu_s')}); console on worker {where['consoles_on']}; visitors per worker "
                f"{where['visitors_per_worker']}"
                + (f", {where['visitors_unplaced']} unplaced" if where.get("visitors_unplaced") else "")
                + (f"; workers replaced: {where['workers_replaced']}" if where.get("workers_replaced") else "")
            )
        phases = [(f"{rate['offered_rate']:g} msg/s", rate) for rate in figures.get("rates", [])]
        phases.append(("burst", figures.get("burst") or {}))
        counts = ("reconnects", "resends", "recovered", "console_reconnects", "closes", "send_failures", "lost")
        if not any(phase.get(key) for _, phase in phases for key in counts):
            loads = ", ".join("→".join(str(value) for value in phase.get("load_average", [])) for _, phase in phases)
            lines.append(f"  {figures['server']}: no socket closed, nothing resent or recovered (load {loads})")
            continue
        for label, phase in phases:
            load = "→".join(str(value) for value in phase.get("load_average", [])) or "-"
            lines.append(
                f"  {figures['server']} {label}: load {load}; visitors reconnected {phase.get('reconnects', 0)} "
                f"(closes {phase.get('closes') or {}}, new tokens {phase.get('new_tokens', 0)}), "
                f"resent {phase.get('resends', 0)}, recovered {phase.get('recovered', 0)} "
                f"({phase.get('recovery_pages', 0)} more pages), unanswered at the end "
                f"{phase.get('unanswered_at_end', 0)}; console reconnected {phase.get('console_reconnects', 0)}"
                + (f"; refused sends {phase['send_failures']}" if phase.get("send_failures") else "")
                + (f"; lost {phase['lost_by_direction']}" if phase.get("lost") else "")
            )
    return lines if len(results) > 1 else []


async def main(arguments: argparse.Namespace) -> None:
    plan = QUICK if arguments.quick else FULL
    global PROFILE_DIR
    PROFILE_DIR = Path(arguments.profile) if arguments.profile else None
    if arguments.agents:
        plan = dataclasses.replace(plan, agents=arguments.agents)
    plan = dataclasses.replace(plan, agent_replies=arguments.agent_replies)
    if arguments.conversations:
        plan = dataclasses.replace(plan, conversations=arguments.conversations)
    if arguments.rates:
        plan = dataclasses.replace(plan, rates=tuple(float(rate) for rate in arguments.rates.split(",")))
    if arguments.large_seconds is not None:
        plan = dataclasses.replace(plan, large_seconds=arguments.large_seconds)
    if arguments.servers is not None:
        plan = dataclasses.replace(plan, servers=tuple(name for name in arguments.servers.split(",") if name))
    if arguments.workers:
        plan = dataclasses.replace(plan, workers=arguments.workers)
    if arguments.repeat:
        plan = dataclasses.replace(plan, repeat=arguments.repeat)
    if arguments.relays:
        plan = dataclasses.replace(plan, relays=tuple(name for name in arguments.relays.split(",") if name))
    plan = dataclasses.replace(plan, synchronous_commit=arguments.synchronous_commit)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    admin_url = arguments.postgres.rstrip("/") + "/postgres"
    database_url = arguments.postgres.rstrip("/") + "/" + arguments.database
    environment = server_environment(database_url, arguments.redis)
    if plan.servers:  # the relay's phases too: the database's background work, beside Parley's
        global DATABASE_PID
        DATABASE_PID = database_pid(admin_url)
    started = time.perf_counter()
    results = [await run_bare(plan)]
    commit_figures: list[dict[str, Any]] = []
    print(f"bare relay measured ({time.perf_counter() - started:.0f} s)", flush=True)
    for name in plan.relays:
        results.append(await run_bare(plan, name))
        print(f"{name} measured ({time.perf_counter() - started:.0f} s)", flush=True)
    if plan.servers:
        api_token, session = prepare_database(admin_url, arguments.database, environment, plan.synchronous_commit)
        print(f"database {arguments.database} ready ({time.perf_counter() - started:.0f} s)", flush=True)
        commit_figures = [await commit_floor(database_url, rate, plan.duration * plan.repeat) for rate in plan.rates]
        print(f"commit floor measured ({time.perf_counter() - started:.0f} s)", flush=True)
        for name in plan.servers:
            results.append(await run_parley(plan, name, environment, api_token, session))
            print(f"{name} measured ({time.perf_counter() - started:.0f} s)", flush=True)
    print()
    print(report(results, plan, commit_figures))
    if arguments.json:
        figures = {"plan": dataclasses.asdict(plan), "results": results, "commit_floor": commit_figures}
        Path(arguments.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Visitor gateway load generator (see the module docstring).")
    parser.add_argument("--quick", action="store_true", help="100 conversations, 50 msg/s, about two minutes")
    parser.add_argument("--conversations", type=int)
    parser.add_argument("--agents", type=int, help="agent console sockets (default 1)")
    parser.add_argument(
        "--agent-replies",
        choices=("socket", "rest"),
        default="socket",
        help="agent replies as send frames on the console socket (default, as the console does) or over REST",
    )
    parser.add_argument("--rates", help="comma-separated offered rates, messages per second")
    parser.add_argument(
        "--large-seconds", type=float, help="each run of the large-events phase (quick 4, full 30; 0 skips it)"
    )
    parser.add_argument("--servers", help="comma-separated: daphne,uvicorn (empty: bare relay only)")
    parser.add_argument("--repeat", type=int, help="runs of each rate, medians reported (default 1)")
    parser.add_argument(
        "--relays",
        help="more relays, comma-separated: bare-deflate (the bare relay compressing every frame), and the bare "
        "relay on Parley's stack, asgi-relay,channels-relay (bench/stack_relay.py)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="uvicorn worker processes on one listening socket (default 1; daphne always runs one process)",
    )
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--database", default="parley_bench")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument(
        "--synchronous-commit",
        choices=("on", "off"),
        default="on",
        help="PostgreSQL's synchronous_commit for the bench database (default on, as in production; off: "
        "a write no longer waits for the disk's flush, to tell the storage's share of the latencies apart)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--profile", help="record py-spy profiles of the servers into this folder")
    # The clients run on uvloop as the servers do (without libuv's io_uring, as engage.lib.loops
    # runs it): their CPU per message is the machine's too.
    os.environ.setdefault("UV_USE_IO_URING", "0")
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(parser.parse_args()))
