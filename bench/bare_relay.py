"""The physical limit: a bare ``websockets`` relay, no framework, no database.

A visitor connects to ``/visitor?c=<conversation>``, an agent to
``/agent?c=<conversation>``; every text frame from one side goes unchanged to
the other side's sockets of that conversation. ``{"action":"heartbeat"}`` is
answered with ``"pong"`` as the visitor gateway does. Prints ``PORT <n>`` once
listening on 127.0.0.1 (``--port 0`` picks a free port). Used by
bench/gateway_load.py as the baseline every figure is divided by.

Compression is off by default, as Parley is deployed (``--ws-per-message-deflate
false``, docs/deployment.md), so both servers do the same wire work per frame;
``--compression deflate`` is ``websockets``' own default, which compresses every
frame for a client that offers permessage-deflate (the bench's clients do, as
browsers do).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve

PEERS = {"visitor": "agent", "agent": "visitor"}
rooms: dict[tuple[str, str], set[ServerConnection]] = defaultdict(set)


async def relay(socket: ServerConnection) -> None:
    url = urlsplit(socket.request.path)
    side = url.path.strip("/")
    conversation = parse_qs(url.query).get("c", [""])[0]
    if side not in PEERS or not conversation:
        await socket.close(1008, "unknown path")
        return
    room, peers = (side, conversation), (PEERS[side], conversation)
    rooms[room].add(socket)
    try:
        async for frame in socket:
            if frame == '{"action":"heartbeat"}':
                await socket.send('"pong"')
                continue
            for peer in list(rooms.get(peers, ())):
                await peer.send(frame)
    finally:
        rooms[room].discard(socket)
        if not rooms[room]:
            del rooms[room]


async def main(port: int, max_size: int, compression: str | None) -> None:
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    async with serve(
        relay, "127.0.0.1", port, max_size=max_size, ping_interval=None, compression=compression
    ) as server:
        print("PORT", server.sockets[0].getsockname()[1], flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-size", type=int, default=128 * 1024)
    parser.add_argument("--compression", choices=("none", "deflate"), default="none")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.port, arguments.max_size, None if arguments.compression == "none" else "deflate"))
