"""Load generator for the visitor gateway, against a bare ``websockets`` relay in the same run.

    python bench/gateway_load.py            # full: 500 conversations, 250 and 1,000 msg/s
    python bench/gateway_load.py --quick    # about two minutes

For each server under test (the bare relay of bench/bare_relay.py, then Parley
under daphne and under uvicorn, each started here on a free 127.0.0.1 port,
on PostgreSQL database ``parley_bench`` that this script recreates, migrates
and seeds, and on Redis) it runs N concurrent conversations. A conversation is
a visitor socket speaking the CXone visitor protocol (token exchange, then
``ws/visitor`` with the transaction token, SendMessage frames, MessageCreated
pushes) and an agent. The agent side uses the agent console socket when there
is one; until then it receives through the tenant's console group of the
channel layer (the same Redis fan-out the console socket will use) and replies
through the agent REST API, so the server under test does the agent's writes.

Measured, open loop (every message has a scheduled send time; latency runs
from that time, so a server that falls behind cannot hide it):

- visitor → agent and agent → visitor latency p50/p99 at each offered rate
  (half of the rate each way);
- saturation throughput: a burst of messages sent at once, delivered per second;
- server CPU per delivered message (``/proc/<pid>/stat`` of the server process);
- memory per idle visitor connection with permessage-deflate offered;
- new connections per second (upgrades completed, tokens fetched beforehand);
- messages lost and duplicated (must be 0) in every phase;
- the frame-size limit (a 1 MiB frame must be refused).

Figures are printed as a table with ratios against the bare relay; ``--json``
writes them to a file. This is a benchmark: it prints, it asserts nothing.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = 4
BRAND_ID = 1001
CHANNEL_ID = "chat_msg"


# --- Configuration ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    conversations: int
    rates: tuple[float, ...]  # messages per second offered, half each way
    duration: float  # seconds per rate
    burst: int  # messages sent at once for the saturation phase
    idle: int  # idle connections for memory and connection rate
    servers: tuple[str, ...]


QUICK = Plan(conversations=100, rates=(100.0,), duration=6.0, burst=600, idle=300, servers=("daphne", "uvicorn"))
FULL = Plan(conversations=500, rates=(250.0, 1000.0), duration=20.0, burst=4000, idle=1500, servers=("daphne", "uvicorn"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


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

    def expect(self, message_id: str, direction: str, at: float) -> None:
        self.scheduled[message_id] = (direction, at)

    def received(self, message_id: str) -> None:
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
        return sum(1 for message_id in self.scheduled if message_id not in self.seen)

    @property
    def delivered(self) -> int:
        return len(self.seen)

    def complete(self) -> bool:
        return len(self.seen) >= len(self.scheduled)


class Phase:
    current: Recorder = Recorder()


def sdk_frame(event_type: str, data: dict[str, Any], *, action: str = "chatWindowEvent") -> str:
    """A client frame as the CXone SDK 2.2.0 builds it (section 5.1 of the protocol reference)."""
    return json.dumps(
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
        },
        separators=(",", ":"),
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
        return ROOT / "var" / "bench" / f"{self.name}.log"

    def log(self) -> Any:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return self.log_path.open("wb")

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


class Parley(Server):
    def __init__(self, name: str, environment: dict[str, str]) -> None:
        super().__init__()
        self.name = name
        self.env = environment

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env, "CHANNEL_LAYER_PREFIX": f"bench{os.getpid()}{self.name}"}

    def command(self) -> list[str]:
        if self.name == "daphne":
            return [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "-v", "0", "engage.asgi:application"]
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
            parsed = json.loads(frame)
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

    def __init__(self, server: Parley, api_token: str, tenant_id: int, database_url: str, redis_url: str) -> None:
        self.server = server
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}",
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
            timeout=60,
        )
        self.api_token = api_token
        self.tenant_id = tenant_id
        self.database_url = database_url
        self.redis_url = redis_url
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

    async def start_agent(self) -> None:
        """The agent's receiving side: the tenant's console group through the Redis layer."""
        from channels_redis.pubsub import RedisPubSubChannelLayer

        self.layer = RedisPubSubChannelLayer(hosts=[self.redis_url], prefix=self.server.environment()["CHANNEL_LAYER_PREFIX"])
        self.agent_channel = await self.layer.new_channel()
        await self.layer.group_add(f"tenant.{self.tenant_id}.console", self.agent_channel)
        self.db = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
        self.lookups: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._agent_events()), asyncio.create_task(self._lookup())]

    async def _agent_events(self) -> None:
        while True:
            message = await self.layer.receive(self.agent_channel)
            event = message.get("event") or {}
            if event.get("event") == "message.created" and event.get("direction") == "inbound":
                self.lookups.put_nowait((event["message_id"], event["thread_id"]))

    async def _lookup(self) -> None:
        """Which bench message an event is: the id the visitor gave it (its client id)."""
        while True:
            batch = [await self.lookups.get()]
            while not self.lookups.empty():
                batch.append(self.lookups.get_nowait())
            rows = await (
                await self.db.execute(
                    "SELECT id, client_id FROM chat_message WHERE id = ANY(%s)", ([pk for pk, _ in batch],)
                )
            ).fetchall()
            client_ids = dict(rows)
            for pk, thread_pk in batch:
                client_id = client_ids.get(pk, "")
                if client_id.startswith("w-"):
                    index = int(client_id.split("-")[-1])
                    self.threads[index] = thread_pk
                    future = self.thread_ready.get(index)
                    if future is not None and not future.done():
                        future.set_result(thread_pk)
                else:
                    Phase.current.received(client_id)

    async def agent_send(self, index: int, message_id: str) -> None:
        response = await self.http.post(
            f"/api/v1/threads/{self.threads[index]}/messages/",
            json={"text": message_id, "client_id": message_id},
            headers={"Authorization": f"Token {self.api_token}"},
        )
        if response.status_code >= 300:
            self.errors[f"agent {response.status_code}"] += 1

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.http.aclose()
        with contextlib.suppress(Exception):
            await self.layer.group_discard(f"tenant.{self.tenant_id}.console", self.agent_channel)
            await self.layer.flush()
        with contextlib.suppress(Exception):
            await self.db.close()


async def _read_visitor(socket: ClientConnection, clients: ParleyClients) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for frame in socket:
            if frame == '"pong"':
                continue
            parsed = json.loads(frame)
            if "error" in parsed:
                clients.errors[f"visitor error {parsed['error'].get('errorCode')}"] += 1
                continue
            if parsed.get("eventType") != "MessageCreated":
                continue
            message = parsed["data"]["message"]
            if message["direction"] == "outbound":
                Phase.current.received(message["messageContent"]["payload"]["text"])


class ParleyConversation(Conversation):
    def __init__(self, index: int, clients: ParleyClients) -> None:
        super().__init__(index)
        self.clients = clients
        self.thread = f"{clients.server.name}-t{index}"

    async def open(self) -> None:
        customer = f"bench-{self.clients.server.name}-{self.index}"
        token = await self.clients.token(customer)
        self.visitor = await connect(
            self.clients.visitor_url(token, f"v{self.index}"), ping_interval=None, max_size=2**20
        )
        self.tasks = [asyncio.create_task(_read_visitor(self.visitor, self.clients))]
        self.clients.thread_ready[self.index] = asyncio.get_running_loop().create_future()
        await self.visitor.send(send_message_frame(self.thread, f"w-{self.clients.server.name}-{self.index}"))
        await asyncio.wait_for(self.clients.thread_ready[self.index], timeout=60)

    async def send_visitor(self, message_id: str) -> None:
        assert self.visitor is not None
        await self.visitor.send(send_message_frame(self.thread, message_id))

    async def send_agent(self, message_id: str) -> None:
        await self.clients.agent_send(self.index, message_id)


# --- Phases -----------------------------------------------------------------------------


async def gather_limited(coroutines: list[Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine: Any) -> Any:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(coroutine) for coroutine in coroutines))


async def _drain(recorder: Recorder, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and not recorder.complete():
        await asyncio.sleep(0.05)


async def open_loop(server: Server, conversations: list[Conversation], rate: float, duration: float, tag: str) -> dict[str, Any]:
    """Sends ``rate`` messages per second for ``duration`` seconds, alternating directions."""
    recorder = Phase.current = Recorder()
    count = int(rate * duration)
    start = time.perf_counter() + 0.2
    cpu_before = cpu_seconds(server.pid)
    pending: set[asyncio.Task[None]] = set()

    async def send(index: int, direction: str, message_id: str) -> None:
        conversation = conversations[index % len(conversations)]
        try:
            if direction == "v2a":
                await conversation.send_visitor(message_id)
            else:
                await conversation.send_agent(message_id)
        except Exception:
            recorder.send_errors += 1

    for number in range(count):
        at = start + number / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        direction = "v2a" if number % 2 == 0 else "a2v"
        message_id = f"{tag}-{direction}-{number}"
        recorder.expect(message_id, direction, at)
        task = asyncio.create_task(send(number // 2, direction, message_id))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await _drain(recorder, 15)
    cpu = cpu_seconds(server.pid) - cpu_before
    return {
        "offered_rate": rate,
        "v2a_p50_ms": _ms(percentile(recorder.latency["v2a"], 0.5)),
        "v2a_p99_ms": _ms(percentile(recorder.latency["v2a"], 0.99)),
        "a2v_p50_ms": _ms(percentile(recorder.latency["a2v"], 0.5)),
        "a2v_p99_ms": _ms(percentile(recorder.latency["a2v"], 0.99)),
        "delivered": recorder.delivered,
        "lost": recorder.lost,
        "duplicated": recorder.duplicates,
        "send_errors": recorder.send_errors,
        "cpu_us_per_message": round(cpu / recorder.delivered * 1e6, 1) if recorder.delivered else None,
    }


async def burst(server: Server, conversations: list[Conversation], count: int, tag: str) -> dict[str, Any]:
    """Sends ``count`` visitor messages at once: saturation throughput, and nothing lost under overload."""
    recorder = Phase.current = Recorder()
    cpu_before = cpu_seconds(server.pid)
    start = time.perf_counter()
    sends = []
    for number in range(count):
        message_id = f"{tag}-burst-{number}"
        recorder.expect(message_id, "v2a", start)
        sends.append(conversations[number % len(conversations)].send_visitor(message_id))
    await asyncio.gather(*sends, return_exceptions=True)
    await _drain(recorder, 120)
    cpu = cpu_seconds(server.pid) - cpu_before
    elapsed = (recorder.last_receipt or time.perf_counter()) - start
    return {
        "burst": count,
        "throughput_per_s": round(recorder.delivered / elapsed) if elapsed > 0 else None,
        "burst_p99_ms": _ms(percentile(recorder.latency["v2a"], 0.99)),
        "lost": recorder.lost,
        "duplicated": recorder.duplicates,
        "cpu_us_per_message": round(cpu / recorder.delivered * 1e6, 1) if recorder.delivered else None,
    }


async def idle_connections(server: Server, urls: list[str]) -> tuple[dict[str, Any], list[ClientConnection]]:
    """Opens the idle sockets at once (connection rate), then measures memory per socket."""
    gc.collect()
    await asyncio.sleep(1.0)
    before = rss_kib(server.pid)
    start = time.perf_counter()
    sockets = await gather_limited(
        [connect(url, ping_interval=None, open_timeout=60, max_size=2**20) for url in urls], limit=256
    )
    elapsed = time.perf_counter() - start
    # A socket counts once the server answers on it: one heartbeat each.
    await asyncio.gather(*(socket.send('{"action":"heartbeat"}') for socket in sockets))
    await asyncio.gather(*(asyncio.wait_for(socket.recv(), 60) for socket in sockets), return_exceptions=True)
    await asyncio.sleep(2.0)
    after = rss_kib(server.pid)
    deflate = sum(
        1 for socket in sockets if "permessage-deflate" in (socket.response.headers.get("Sec-WebSocket-Extensions") or "")
    )
    return {
        "idle": len(sockets),
        "connections_per_s": round(len(sockets) / elapsed),
        "kib_per_idle_connection": round((after - before) / len(sockets), 1),
        "deflate_negotiated": deflate,
    }, sockets


async def frame_limit(url: str) -> str:
    """What the server does with a 1 MiB text frame: it must refuse it."""
    try:
        async with connect(url, ping_interval=None, max_size=2**21) as socket:
            await socket.send(json.dumps({"action": "heartbeat", "padding": "x" * 2**20}))
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


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


# --- Runs ---------------------------------------------------------------------------------


async def run_bare(plan: Plan) -> dict[str, Any]:
    server = BareRelay()
    await server.start()
    try:
        conversations: list[Conversation] = []
        for index in range(plan.conversations):
            conversation = BareConversation(index, server.port)
            await conversation.open()
            conversations.append(conversation)
        return await _measure(server, conversations, [f"ws://127.0.0.1:{server.port}/visitor?c=idle-{n}" for n in range(plan.idle)], plan)
    finally:
        await server.stop()


async def run_parley(plan: Plan, name: str, environment: dict[str, str], api_token: str, tenant_id: int) -> dict[str, Any]:
    server = Parley(name, environment)
    await server.start()
    clients = ParleyClients(server, api_token, tenant_id, environment["DATABASE_URL"], environment["REDIS_URL"])
    try:
        await clients.start_agent()
        conversations: list[Conversation] = [ParleyConversation(index, clients) for index in range(plan.conversations)]
        await gather_limited([conversation.open() for conversation in conversations], limit=32)  # type: ignore[attr-defined]
        tokens = await gather_limited([clients.token(f"idle-{name}-{n}") for n in range(plan.idle)], limit=32)
        urls = [clients.visitor_url(token, f"idle{n}") for n, token in enumerate(tokens)]
        figures = await _measure(server, conversations, urls, plan)
        figures["errors"] = dict(clients.errors)
        return figures
    finally:
        await clients.close()
        await server.stop()


async def _measure(server: Server, conversations: list[Conversation], idle_urls: list[str], plan: Plan) -> dict[str, Any]:
    figures: dict[str, Any] = {"server": server.name, "conversations": len(conversations)}
    await open_loop(server, conversations, min(plan.rates[0], 100.0), 2.0, f"{server.name}-warm")
    figures["rates"] = [
        await open_loop(server, conversations, rate, plan.duration, f"{server.name}-r{int(rate)}") for rate in plan.rates
    ]
    figures["burst"] = await burst(server, conversations, plan.burst, server.name)
    figures["frame_limit"] = await frame_limit(idle_urls[0])
    idle, sockets = await idle_connections(server, idle_urls[1:])
    figures.update(idle)
    await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
    await asyncio.gather(*(conversation.close() for conversation in conversations), return_exceptions=True)
    return figures


def prepare_database(admin_url: str, name: str, environment: dict[str, str]) -> tuple[str, int]:
    """Recreates, migrates and seeds the bench database; returns an agent API token and the tenant id."""
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    manage = [sys.executable, "manage.py"]
    for arguments in (["migrate", "--noinput", "-v0"], ["seed_demo", "--force"]):
        subprocess.run([*manage, *arguments], cwd=ROOT, env={**os.environ, **environment}, check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run(
        [*manage, "create_api_token", "acme-admin"], cwd=ROOT, env={**os.environ, **environment}, check=True, capture_output=True, text=True
    ).stdout.strip()
    with psycopg.connect(environment["DATABASE_URL"]) as connection:
        row = connection.execute("SELECT id FROM engage_tenant WHERE slug = 'acme'").fetchone()
    assert row is not None
    return token, row[0]


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

COLUMNS = [
    ("v→a p50 ms", lambda f, i: f["rates"][i]["v2a_p50_ms"]),
    ("v→a p99 ms", lambda f, i: f["rates"][i]["v2a_p99_ms"]),
    ("a→v p50 ms", lambda f, i: f["rates"][i]["a2v_p50_ms"]),
    ("a→v p99 ms", lambda f, i: f["rates"][i]["a2v_p99_ms"]),
    ("CPU µs/msg", lambda f, i: f["rates"][i]["cpu_us_per_message"]),
    ("lost/dup", lambda f, i: f"{f['rates'][i]['lost']}/{f['rates'][i]['duplicated']}"),
]
SUMMARY = [
    ("burst msg/s", lambda f: f["burst"]["throughput_per_s"]),
    ("burst CPU µs/msg", lambda f: f["burst"]["cpu_us_per_message"]),
    ("burst lost/dup", lambda f: f"{f['burst']['lost']}/{f['burst']['duplicated']}"),
    ("KiB/idle conn", lambda f: f["kib_per_idle_connection"]),
    ("deflate", lambda f: f"{f['deflate_negotiated']}/{f['idle']}"),
    ("conn/s", lambda f: f["connections_per_s"]),
    ("1 MiB frame", lambda f: f["frame_limit"]),
]


def _ratio(value: Any, base: Any) -> str:
    if isinstance(value, int | float) and isinstance(base, int | float) and base:
        return f"{value / base:.1f}×"
    return "-"


def report(results: list[dict[str, Any]], plan: Plan) -> str:
    bare = results[0]
    lines = [f"conversations: {plan.conversations}; machine: {os.cpu_count()} CPUs; rates offered half each way", ""]
    for index, rate in enumerate(plan.rates):
        lines.append(f"open loop at {rate:g} msg/s for {plan.duration:g} s")
        header = f"{'server':<10}" + "".join(f"{name:>14}" for name, _ in COLUMNS)
        lines.append(header)
        for figures in results:
            row = f"{figures['server']:<10}" + "".join(f"{str(get(figures, index)):>14}" for _, get in COLUMNS)
            lines.append(row)
            if figures is not bare:
                ratios = f"{'  ÷ bare':<10}" + "".join(
                    f"{_ratio(get(figures, index), get(bare, index)) if 'lost' not in name else '':>14}"
                    for name, get in COLUMNS
                )
                lines.append(ratios)
        lines.append("")
    lines.append(f"{'server':<10}" + "".join(f"{name:>17}" for name, _ in SUMMARY))
    for figures in results:
        lines.append(f"{figures['server']:<10}" + "".join(f"{str(get(figures)):>17}" for _, get in SUMMARY))
        if figures is not bare:
            lines.append(
                f"{'  ÷ bare':<10}"
                + "".join(
                    f"{_ratio(get(figures), get(bare)) if name in {'burst msg/s', 'burst CPU µs/msg', 'KiB/idle conn', 'conn/s'} else '':>17}"
                    for name, get in SUMMARY
                )
            )
    for figures in results:
        if figures.get("errors"):
            lines.append(f"{figures['server']} errors: {figures['errors']}")
    return "\n".join(lines)


async def main(arguments: argparse.Namespace) -> None:
    plan = QUICK if arguments.quick else FULL
    if arguments.conversations:
        plan = dataclasses.replace(plan, conversations=arguments.conversations)
    if arguments.rates:
        plan = dataclasses.replace(plan, rates=tuple(float(rate) for rate in arguments.rates.split(",")))
    if arguments.servers is not None:
        plan = dataclasses.replace(plan, servers=tuple(name for name in arguments.servers.split(",") if name))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    admin_url = arguments.postgres.rstrip("/") + "/postgres"
    database_url = arguments.postgres.rstrip("/") + "/" + arguments.database
    environment = server_environment(database_url, arguments.redis)
    started = time.perf_counter()
    results = [await run_bare(plan)]
    print(f"bare relay measured ({time.perf_counter() - started:.0f} s)", flush=True)
    if plan.servers:
        api_token, tenant_id = prepare_database(admin_url, arguments.database, environment)
        print(f"database {arguments.database} ready ({time.perf_counter() - started:.0f} s)", flush=True)
        for name in plan.servers:
            results.append(await run_parley(plan, name, environment, api_token, tenant_id))
            print(f"{name} measured ({time.perf_counter() - started:.0f} s)", flush=True)
    print()
    print(report(results, plan))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({"plan": dataclasses.asdict(plan), "results": results}, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Visitor gateway load generator (see the module docstring).")
    parser.add_argument("--quick", action="store_true", help="100 conversations, 100 msg/s, about two minutes")
    parser.add_argument("--conversations", type=int)
    parser.add_argument("--rates", help="comma-separated offered rates, messages per second")
    parser.add_argument("--servers", help="comma-separated: daphne,uvicorn (empty: bare relay only)")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--database", default="parley_bench")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--json", help="also write the figures to this file")
    asyncio.run(main(parser.parse_args()))
