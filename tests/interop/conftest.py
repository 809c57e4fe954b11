"""The interop harness: Parley served on 127.0.0.1 (uvicorn, port 0) and the real SDK under Node 20.

The SDK is installed from npm at test time into ``tests/interop/node_modules``
(gitignored, never committed), pinned by ``package-lock.json``. Each SDK run is
one Node process (the SDK keeps module-global state) that reports JSON lines;
pytest answers its ``need`` lines by acting as the agent through chat.services.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SDK_PACKAGE = HERE / "node_modules" / "@nice-devone" / "nice-cxone-chat-web-sdk" / "package.json"
CI = os.environ.get("CI", "").lower() == "true"
LINE_TIMEOUT = 25


def _installed() -> bool:
    if not SDK_PACKAGE.exists() or not (HERE / "node_modules" / "ws" / "package.json").exists():
        return False
    return json.loads(SDK_PACKAGE.read_text())["version"] == "2.2.0"


@pytest.fixture(scope="session")
def sdk_installed() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        if CI:
            pytest.fail("Node 20 and npm are required for the interop suite")
        pytest.skip("Node 20 and npm are required for the interop suite")
    if not _installed():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True, timeout=600)
    assert _installed(), "npm did not install @nice-devone/nice-cxone-chat-web-sdk@2.2.0"
    return HERE


class ParleyServer:
    """engage.asgi served by uvicorn in a thread of the test process, on a free loopback port."""

    def __init__(self, port: int = 0) -> None:
        import uvicorn

        from engage.asgi import application

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(
            application,
            lifespan="off",
            log_level="warning",
            ws_max_size=256 * 1024,
            # As docs/deployment.md runs it: Parley's WebSocket protocol, without compression.
            ws="engage.lib.websocket_protocol:WebSocketProtocol",
            ws_per_message_deflate=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


class RestartableServer:
    """A ParleyServer that can go down and come back on the same port, as after a deploy."""

    def __init__(self) -> None:
        self.current = ParleyServer()
        self.port = self.current.port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.current.start()

    def stop(self) -> None:
        self.current.stop()

    def restart(self, while_down=None) -> None:  # type: ignore[no-untyped-def]
        self.current.stop()
        if while_down is not None:
            while_down()
        self.current = ParleyServer(self.port)
        self.current.start()


@pytest.fixture
def parley_server(sdk_installed, settings):  # type: ignore[no-untyped-def]
    # One layer object for the server's loop and the test thread's agent actions.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "engage.layers.InProcessChannelLayer", "CONFIG": {}}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "interop"}}
    server = RestartableServer()
    server.start()
    yield server
    server.stop()


class DaphneServer:
    """``daphne engage.asgi:application`` in its own process, on a free port, sharing the test
    database and a Redis channel layer with the test process (the production shape)."""

    def __init__(self, database_url: str, redis_url: str, prefix: str) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER_PREFIX": prefix,
            "DJANGO_SETTINGS_MODULE": "engage.settings",
            "PARLEY_GC_SWEEP_SECONDS": "3600",  # a server's default (the test process runs with off)
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-e", "tcp:port=0:interface=127.0.0.1", "engage.asgi:application"],
            cwd=HERE.parent.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.port = self._port()

    def _port(self) -> int:
        assert self.process.stderr is not None
        deadline = time.monotonic() + 30
        seen = []
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                break
            seen.append(line)
            match = re.search(r"Listening on TCP address 127\.0\.0\.1:(\d+)", line)
            if match:
                threading.Thread(target=self.process.stderr.read, daemon=True).start()  # keep the pipe drained
                return int(match.group(1))
        self.process.kill()
        raise RuntimeError(f"daphne did not start: {''.join(seen)}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def daphne_server(sdk_installed, settings):  # type: ignore[no-untyped-def]
    from django.db import connection

    if not settings.IS_POSTGRES or not settings.REDIS_URL:
        reason = "the daphne interop test needs PostgreSQL and Redis (a second process shares them)"
        if CI:
            pytest.fail(reason)
        pytest.skip(reason)
    database = connection.settings_dict
    database_url = (
        f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    prefix = f"interop-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "engage.layers.RedisFanoutChannelLayer",  # the default with REDIS_URL, as in the server
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": prefix},
        }
    }
    server = DaphneServer(database_url, settings.REDIS_URL, prefix)
    yield server
    server.stop()


class SdkProcess:
    """One Node process running one scenario of sdk_driver.cjs."""

    def __init__(self, server: RestartableServer | DaphneServer, scenario: str, **config: Any) -> None:
        settings = {
            "scenario": scenario,
            "chat": server.base,
            "gateway": f"ws://127.0.0.1:{server.port}/ws/visitor",
            **config,
        }
        env = {**os.environ, "PARLEY_SDK_CONFIG": json.dumps(settings)}
        self.process = subprocess.Popen(
            ["node", str(HERE / "sdk_driver.cjs")],
            cwd=HERE,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.log: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                self.lines.put({"type": "noise", "name": "stdout", "value": line})

    def next(self, kind: str, name: str | None = None) -> Any:
        """The value of the next line of ``kind`` (and ``name``); fails on a ``fail`` line or a timeout."""
        while True:
            try:
                line = self.lines.get(timeout=LINE_TIMEOUT)
            except queue.Empty:
                self.process.kill()
                stderr = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"no {kind} {name} from the SDK; seen {self.log}; stderr {stderr}") from None
            self.log.append(line)
            if line["type"] == "fail":
                raise AssertionError(f"SDK scenario failed: {line['value']}")
            if line["type"] == kind and (name is None or line["name"] == name):
                return line["value"]

    def step(self, name: str) -> Any:
        return self.next("step", name)

    def need(self, name: str) -> Any:
        return self.next("need", name)

    def go(self, name: str, value: Any = None) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"type": "go", "name": name, "value": value}) + "\n")
        self.process.stdin.flush()

    def done(self) -> list[str]:
        """Waits for the scenario's end; returns the errors the SDK reported to onError."""
        value = self.next("done")
        self.process.wait(timeout=10)
        return value["errors"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture
def run_sdk(parley_server):  # type: ignore[no-untyped-def]
    started: list[SdkProcess] = []

    def start(scenario: str, **config: Any) -> SdkProcess:
        process = SdkProcess(parley_server, scenario, **config)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()
