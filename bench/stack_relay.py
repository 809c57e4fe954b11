"""The bare relay (bench/bare_relay.py) on Parley's server stack, to split the gateway's cost.

Two ASGI apps, served by bench/gateway_load.py with uvicorn exactly as Parley is
(uvloop without io_uring, no compression, 128 KiB frames):

- ``asgi`` (server ``asgi-relay``): the relay as a plain ASGI app, no framework. What
  uvicorn's WebSocket protocol and the ASGI messages cost over ``websockets`` alone.
- ``channels`` (server ``channels-relay``): the relay as a Channels consumer with
  Parley's dispatch (``engage.lib.consumers``), each side a group of Parley's
  in-process channel layer: what Channels and a layer add, still with no
  database, no Redis, no protocol parsing and no rendering.

Same paths and frames as the bare relay: ``/visitor?c=<conversation>`` and
``/agent?c=<conversation>``; every text frame goes unchanged to the other side;
``{"action":"heartbeat"}`` is answered with ``"pong"``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

PEERS = {"visitor": "agent", "agent": "visitor"}
HEARTBEAT = '{"action":"heartbeat"}'


def _room(scope: dict[str, Any]) -> tuple[str, str] | None:
    side = scope["path"].strip("/")
    conversation = parse_qs(scope["query_string"].decode()).get("c", [""])[0]
    return (side, conversation) if side in PEERS and conversation else None


# --- plain ASGI ---------------------------------------------------------------------------

_rooms: dict[tuple[str, str], set[Any]] = defaultdict(set)


async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    room = _room(scope)
    await receive()  # websocket.connect
    if room is None:
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    peers = (PEERS[room[0]], room[1])
    _rooms[room].add(send)
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text == HEARTBEAT:
                await send({"type": "websocket.send", "text": '"pong"'})
                continue
            for peer in list(_rooms.get(peers, ())):
                await peer({"type": "websocket.send", "text": text})
    finally:
        _rooms[room].discard(send)
        if not _rooms[room]:
            del _rooms[room]


# --- Channels, with Parley's dispatch and in-process layer ----------------------------------

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engage.settings")
os.environ["REDIS_URL"] = ""  # the in-process layer, as in the embedded profile

import django  # noqa: E402

django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402

from engage.lib.consumers import PumpedConsumerMixin, WorkerDatabaseMixin  # noqa: E402


class RelayConsumer(PumpedConsumerMixin, WorkerDatabaseMixin, AsyncWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        room = _room(self.scope)
        if room is None:
            await self.close(1008)
            return
        self.group = f"relay.{room[0]}.{room[1]}"
        self.peers = f"relay.{PEERS[room[0]]}.{room[1]}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == HEARTBEAT:
            await self.send('"pong"')
            return
        await self.channel_layer.group_send(self.peers, {"type": "relay.frame", "text": text_data})

    async def relay_frame(self, message: dict[str, Any]) -> None:
        await self.send(message["text"])


channels = RelayConsumer.as_asgi()
