"""Two real daphne processes: a visitor on one, an agent console on the other.

The console's process is killed (SIGKILL) in the middle of a conversation while
the visitor keeps writing; a new process takes its place and the console
resyncs from the last sequence it saw: nothing is lost, nothing is doubled.
Pushes cross processes through the Redis channel layer.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import websockets
from django.conf import settings
from django.test import Client

from engage.models import Channel

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class Daphne:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "engage.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60  # a loaded CI machine starts Django slowly
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("daphne did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None


@pytest.fixture
def processes(acme):  # type: ignore[no-untyped-def]
    Channel.objects.filter(channel_id="chat_msg").update(auth_mode=Channel.AuthMode.NONE)
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_LAYER_PREFIX": f"console-mp-{uuid.uuid4().hex[:8]}",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "PARLEY_GC_SWEEP_SECONDS": "3600",  # a server's default (the test process runs with off)
        "DATABASE_POOL_MIN": "1",
        "LOG_LEVEL": "WARNING",
    }
    visitor_side, console_side = Daphne(env), Daphne(env)
    visitor_side.start()
    console_side.start()
    yield visitor_side, console_side
    console_side.kill()
    visitor_side.kill()


async def _visitor_say(socket_, text: str) -> None:
    event_id = str(uuid.uuid4())
    await socket_.send(
        json.dumps(
            {
                "action": "chatWindowEvent",
                "eventId": event_id,
                "payload": {
                    "eventType": "SendMessage",
                    "brand": {"id": 1001},
                    "channel": {"id": "chat_msg"},
                    "consumerIdentity": {"idOnExternalPlatform": "mp-visitor"},
                    "data": {
                        "messageContent": {"type": "TEXT", "payload": {"text": text}},
                        "idOnExternalPlatform": str(uuid.uuid4()),
                        "thread": {"idOnExternalPlatform": "mp-thread"},
                        "consumer": {"customFields": []},
                        "consumerContact": {"customFields": []},
                        "attachments": [],
                    },
                    "destination": {},
                    "visitor": {},
                    "visit": {},
                },
            }
        )
    )
    while True:
        frame = json.loads(await asyncio.wait_for(socket_.recv(), 10))
        if isinstance(frame, dict) and frame.get("eventId") == event_id:
            assert "error" not in frame, frame
            return


async def _open_visitor(port: int):  # type: ignore[no-untyped-def]
    socket_ = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/visitor?v=0&sdkPlatform=web&sdkVersion=2.2.0&brandId=1001"
        "&channelId=chat_msg&customerId=mp-visitor&visitorId=mp"
    )
    await socket_.send(
        json.dumps(
            {
                "action": "register",
                "eventId": "auth",
                "payload": {
                    "eventType": "AuthorizeCustomer",
                    "brand": {"id": 1001},
                    "channel": {"id": "chat_msg"},
                    "consumerIdentity": {"idOnExternalPlatform": "mp-visitor"},
                    "data": {"authorization": {"authorizationCode": None}},
                    "destination": {},
                    "visitor": {},
                    "visit": {},
                },
            }
        )
    )
    while json.loads(await asyncio.wait_for(socket_.recv(), 10)).get("eventId") != "auth":
        pass
    return socket_


async def _open_console(port: int, cookie: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while True:
        try:
            socket_ = await websockets.connect(
                f"ws://127.0.0.1:{port}/ws/console",
                additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"},
            )
            break
        except OSError:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
    welcome = json.loads(await asyncio.wait_for(socket_.recv(), 10))
    assert welcome["type"] == "welcome"
    return socket_


class ConsoleClient:
    """What the console's TypeScript does: keep messages by sequence, resync after a reconnect."""

    def __init__(self) -> None:
        self.by_sequence: dict[int, str] = {}
        self.deliveries: list[int] = []
        self.thread_id: int | None = None

    def take(self, frame: dict) -> None:
        messages = [frame["message"]] if frame["type"] == "message" else frame.get("messages", [])
        for message in messages:
            self.thread_id = message["thread_id"]
            self.deliveries.append(message["sequence"])
            self.by_sequence.setdefault(message["sequence"], message["content"]["text"])

    @property
    def last_contiguous(self) -> int:
        sequence = 0
        while sequence + 1 in self.by_sequence:
            sequence += 1
        return sequence

    async def read_until(self, socket_, condition, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out; have {sorted(self.by_sequence)}"
            self.take(json.loads(await asyncio.wait_for(socket_.recv(), remaining)))


def test_a_killed_console_process_loses_and_doubles_nothing(acme, processes):
    visitor_side, console_side = processes
    client = Client()
    client.force_login(acme.alice.user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value

    async def scenario() -> ConsoleClient:
        console_state = ConsoleClient()
        visitor = await _open_visitor(visitor_side.port)
        console = await _open_console(console_side.port, cookie)
        for text in ("m1", "m2"):
            await _visitor_say(visitor, text)
        await console_state.read_until(console, lambda: len(console_state.by_sequence) == 2)

        console_side.kill()  # SIGKILL: no close frame, no clean-up
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(console.recv(), 10)
        for text in ("m3", "m4", "m5"):
            await _visitor_say(visitor, text)
        console_side.start()

        console = await _open_console(console_side.port, cookie)
        await console.send(
            json.dumps({"type": "resync", "threads": {str(console_state.thread_id): console_state.last_contiguous}})
        )
        await _visitor_say(visitor, "m6")  # races the resync
        await console_state.read_until(console, lambda: len(console_state.by_sequence) == 6, timeout=15)
        await console.close()
        await visitor.close()
        return console_state

    state = asyncio.run(scenario())
    assert state.by_sequence == {1: "m1", 2: "m2", 3: "m3", 4: "m4", 5: "m5", 6: "m6"}
    # Messages 1 to 5 reached the client exactly once (the resync answered exactly what was
    # missing); m6 raced the resync and may come both in its answer and as a push, shown once.
    deliveries = Counter(state.deliveries)
    assert [deliveries[sequence] for sequence in range(1, 6)] == [1, 1, 1, 1, 1]
    assert deliveries[6] in (1, 2)
