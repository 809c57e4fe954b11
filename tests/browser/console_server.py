"""Real servers and a real visitor for the console's browser tests.

``RestartableServer`` runs Parley's ASGI application under uvicorn in a thread on
a loopback port picked at run time, and can be stopped (every socket dies) and
started again on the same port. ``Visitor`` speaks the CXone-compatible visitor
protocol (docs: /work/shared/reference/cxone-chat-protocol.md sections 3 to 6) with the
``websockets`` client, as the Chat Web SDK would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from typing import Any

import uvicorn
import websockets

from tests.browser.widget_server import application


class RestartableServer:
    def __init__(self) -> None:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            application(), log_level="warning", lifespan="off", ws="websockets-sansio", timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(server.serve(sockets=[sock]))

        self._server, self._socket = server, sock
        self._thread = threading.Thread(target=run, name=f"console-test-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the test server did not start"

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None


class Visitor:
    """A visitor on ws/visitor (legacy customerId mode): authorize, write, type."""

    def __init__(self, base: str, *, customer_id: str, brand_id: int = 1001, channel_id: str = "chat_msg") -> None:
        self.brand_id, self.channel_id, self.customer_id = brand_id, channel_id, customer_id
        self.thread_id = f"thread-{uuid.uuid4()}"
        self.url = (
            base.replace("http://", "ws://")
            + f"/ws/visitor?v=0&sdkPlatform=web&sdkVersion=2.2.0&brandId={brand_id}&channelId={channel_id}"
            + f"&customerId={customer_id}&visitorId=visitor-{customer_id}"
        )
        self.frames: list[Any] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="visitor", daemon=True)
        self._thread.start()
        self._socket: Any = None
        self._answers: dict[str, asyncio.Future] = {}

    def _run(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _connect(self) -> None:
        self._socket = await websockets.connect(self.url)
        self._loop.create_task(self._reader())

    async def _reader(self) -> None:
        async for raw in self._socket:
            frame = json.loads(raw)
            self.frames.append(frame)
            if isinstance(frame, dict) and frame.get("eventId") in self._answers:
                future = self._answers.pop(frame["eventId"])
                if not future.done():
                    future.set_result(frame)

    async def _request(self, event_type: str, data: dict[str, Any], *, action: str = "chatWindowEvent") -> Any:
        event_id = str(uuid.uuid4())
        future = self._loop.create_future()
        self._answers[event_id] = future
        await self._socket.send(
            json.dumps(
                {
                    "action": action,
                    "eventId": event_id,
                    "payload": {
                        "eventType": event_type,
                        "brand": {"id": self.brand_id},
                        "channel": {"id": self.channel_id},
                        "consumerIdentity": {
                            "idOnExternalPlatform": self.customer_id,
                            "firstName": "Vera",
                            "lastName": "Visitor",
                        },
                        "data": data,
                        "destination": {},
                        "visitor": {"id": f"visitor-{self.customer_id}"},
                        "visit": {},
                    },
                }
            )
        )
        return await asyncio.wait_for(future, 10)

    def connect(self) -> None:
        self._run(self._connect())
        answer = self._run(
            self._request(
                "AuthorizeCustomer",
                {"authorization": {"authorizationCode": None}, "disableChannelInfo": True},
                action="register",
            )
        )
        assert answer.get("postback", {}).get("eventType") == "ConsumerAuthorized", answer

    def say(self, text: str) -> Any:
        answer = self._run(
            self._request(
                "SendMessage",
                {
                    "messageContent": {"type": "TEXT", "payload": {"text": text}},
                    "idOnExternalPlatform": str(uuid.uuid4()),
                    "thread": {"idOnExternalPlatform": self.thread_id},
                    "consumer": {"customFields": []},
                    "consumerContact": {"customFields": []},
                    "attachments": [],
                },
            )
        )
        assert "error" not in answer, answer
        return answer

    def seen(self) -> None:
        answer = self._run(self._request("MessageSeenByConsumer", {"thread": {"idOnExternalPlatform": self.thread_id}}))
        assert "error" not in answer, answer

    def event_types(self) -> list[str]:
        return [frame.get("eventType", "") for frame in self.frames if isinstance(frame, dict)]

    def typing(self, started: bool) -> None:
        event_type = "SenderTypingStarted" if started else "SenderTypingEnded"
        self._run(self._send_only(event_type, {"thread": {"idOnExternalPlatform": self.thread_id}}))

    async def _send_only(self, event_type: str, data: dict[str, Any]) -> None:
        await self._socket.send(
            json.dumps(
                {
                    "action": "chatWindowEvent",
                    "eventId": str(uuid.uuid4()),
                    "payload": {
                        "eventType": event_type,
                        "brand": {"id": self.brand_id},
                        "channel": {"id": self.channel_id},
                        "consumerIdentity": {"idOnExternalPlatform": self.customer_id},
                        "data": data,
                        "destination": {},
                        "visitor": {},
                        "visit": {},
                    },
                }
            )
        )

    def received_texts(self) -> list[str]:
        """Texts of the brand's messages pushed to this visitor (MessageCreated, outbound)."""
        texts = []
        for frame in self.frames:
            if not isinstance(frame, dict) or frame.get("eventType") != "MessageCreated":
                continue
            message = (frame.get("data") or {}).get("message") or {}
            if message.get("direction") == "outbound":
                texts.append(((message.get("messageContent") or {}).get("payload") or {}).get("text"))
        return texts

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
                self._run(self._socket.close(), timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
