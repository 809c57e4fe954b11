"""engage.lib.websocket_protocol: Parley's WebSocket protocol for uvicorn, served for real on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

import engage.asgi
from engage.lib import websocket_protocol
from engage.lib.websocket_protocol import (
    BACKLOG,
    CoarseTimers,
    WebSocketProtocol,
    frame_header,
    keepalive_tick,
    whole_frames,
)
from tests.collector import cyclic_garbage_from

PROTOCOL = "engage.lib.websocket_protocol:WebSocketProtocol"


class Hold:
    """Lets the test hold the application's reads back (``/hold``)."""

    def __init__(self) -> None:
        self.released = threading.Event()


HOLD = Hold()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/echo`` sends back what it receives, ``/hold`` too once released, ``/close`` closes with 4001."""
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    if scope["path"] == "/hold":
        while not HOLD.released.is_set():
            await asyncio.sleep(0.01)
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if scope["path"] == "/close":
            await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


@contextlib.contextmanager
def serve(**options: Any) -> Iterator[tuple[int, uvicorn.Server]]:
    """uvicorn with Parley's protocol in a thread, on a free loopback port."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws=PROTOCOL, ws_max_size=256 * 1024, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield listening.getsockname()[1], server
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listening.close()


def _protocols(server: uvicorn.Server) -> list[WebSocketProtocol]:
    return [item for item in list(server.server_state.connections) if isinstance(item, WebSocketProtocol)]


async def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition was not met in time"
        await asyncio.sleep(0.01)


class RawClient:
    """A WebSocket client on websockets' sans-I/O protocol, so that the test sees every frame
    (pings included) and decides whether its answers (pongs) are written."""

    def __init__(self, port: int, path: str, *, answer: bool = True) -> None:
        self.port, self.path, self.answer = port, path, answer
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}{path}"))
        self.frames: list[Frame] = []

    async def open(self) -> RawClient:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.protocol.send_request(self.protocol.connect())
        self.writer.write(b"".join(self.protocol.data_to_send()))
        while self.protocol.handshake_exc is None and self.protocol.state.name == "CONNECTING":
            await self._read()
        assert self.protocol.state.name == "OPEN"
        return self

    async def _read(self) -> None:
        try:
            data = await self.reader.read(65536)
        except ConnectionResetError:  # the server closed with our bytes unread: what came before stays read
            data = b""
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self.frames += [event for event in self.protocol.events_received() if isinstance(event, Frame)]
        output = self.protocol.data_to_send()
        if self.answer:
            self.writer.write(b"".join(chunk for chunk in output if chunk))

    async def read_for(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not self.protocol.reader.eof:
                    await self._read()

    def write(self, frame: Frame) -> None:
        self.protocol.send_frame(frame)
        self.writer.write(b"".join(self.protocol.data_to_send()))

    def of(self, opcode: Opcode) -> list[Frame]:
        return [frame for frame in self.frames if frame.opcode is opcode]


# -- frames written in one call ---------------------------------------------------------------


def test_frame_headers_follow_rfc_6455_length_encoding():
    assert frame_header(0x81, 0) == b"\x81\x00"
    assert frame_header(0x81, 125) == b"\x81\x7d"
    assert frame_header(0x82, 126) == b"\x82\x7e\x00\x7e"
    assert frame_header(0x81, 65535) == b"\x81\x7e\xff\xff"
    assert frame_header(0x81, 65536) == b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"


TEXTS = ["", "a", "x" * 125, "x" * 126, "x" * 127, "é" * 40000, "x" * 65535, "x" * 65536, "y" * 200_000]


async def test_text_and_binary_frames_arrive_exactly_as_sent():
    with serve(ws_per_message_deflate=False) as (port, _server):
        async with connect(f"ws://127.0.0.1:{port}/echo", compression=None, max_size=None) as client:
            for text in TEXTS:
                await client.send(text)
                assert await client.recv() == text
            for size in (0, 5, 126, 70000):
                payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
                await client.send(payload)
                assert await client.recv() == payload


async def test_with_permessage_deflate_the_frames_are_compressed_by_uvicorns_code():
    with serve(ws_per_message_deflate=True) as (port, _server):
        async with connect(f"ws://127.0.0.1:{port}/echo", max_size=None) as client:
            assert [extension.name for extension in client.protocol.extensions] == ["permessage-deflate"]
            for text in TEXTS:
                await client.send(text)
                assert await client.recv() == text


async def test_a_close_from_the_application_still_closes_the_socket():
    with serve(ws_per_message_deflate=False) as (port, _server):
        async with connect(f"ws://127.0.0.1:{port}/close", compression=None) as client:
            await client.send("hello")
            await client.wait_closed()
            assert (client.close_code, client.close_reason) == (4001, "bye")


async def test_invalid_utf8_in_a_text_message_closes_with_1007():
    with serve(ws_per_message_deflate=False) as (port, _server):
        client = await RawClient(port, "/echo", answer=False).open()  # no close reply to race the server's close
        client.write(Frame(Opcode.TEXT, b"ok \xff\xfe"))
        await client.read_for(3)
        closes = client.of(Opcode.CLOSE)
        assert len(closes) == 1 and int.from_bytes(closes[0].data[:2], "big") == 1007
        assert client.of(Opcode.TEXT) == []


# -- frames read in one call --------------------------------------------------------------------


def _masked(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=True, extensions=[])


def test_whole_frames_takes_whole_masked_data_frames_and_stops_at_anything_else():
    data = _masked(Opcode.TEXT, b"hi") + _masked(Opcode.BINARY, b"\x00" * 300) + _masked(Opcode.TEXT, b"y" * 70000)
    ping = _masked(Opcode.PING, b"p")
    frames, position = whole_frames(data + ping + _masked(Opcode.TEXT, b"after"), 1 << 20)
    assert frames == [(True, b"hi"), (False, b"\x00" * 300), (True, b"y" * 70000)]
    assert position == len(data)
    third = len(_masked(Opcode.TEXT, b"hi")) + len(_masked(Opcode.BINARY, b"\x00" * 300))
    assert whole_frames(data[:-1], 1 << 20) == ([(True, b"hi"), (False, b"\x00" * 300)], third)  # cut short
    assert whole_frames(_masked(Opcode.TEXT, b"x" * 200), 199) == ([], 0)  # too large: websockets refuses it
    assert whole_frames(_masked(Opcode.TEXT, b"a", fin=False), None) == ([], 0)  # a fragment
    assert whole_frames(Frame(Opcode.TEXT, b"plain").serialize(mask=False, extensions=[]), None) == ([], 0)


async def test_frames_together_cut_or_among_control_frames_and_fragments_arrive_in_order():
    with serve(ws_per_message_deflate=False) as (port, _server):
        client = await RawClient(port, "/echo").open()
        together = b"".join(_masked(Opcode.TEXT, f"t{index}".encode()) for index in range(5))
        cut = _masked(Opcode.TEXT, b"c" * 5000)
        client.writer.write(together + cut[:1000])
        await client.read_for(0.2)
        client.writer.write(cut[1000:] + _masked(Opcode.PING, b"ping") + _masked(Opcode.BINARY, b"\x01\x02"))
        client.writer.write(_masked(Opcode.TEXT, b"frag", fin=False) + _masked(Opcode.CONT, b"ment"))
        client.writer.write(_masked(Opcode.TEXT, "é after".encode()))
        await client.read_for(0.5)
        echoed = [(frame.opcode, frame.data) for frame in client.frames if frame.opcode in (Opcode.TEXT, Opcode.BINARY)]
        assert [frame.data for frame in client.of(Opcode.PONG)] == [b"ping"]  # answered at once, by the protocol
        assert echoed == [
            *((Opcode.TEXT, f"t{index}".encode()) for index in range(5)),
            (Opcode.TEXT, b"c" * 5000),
            (Opcode.BINARY, b"\x01\x02"),
            (Opcode.TEXT, b"fragment"),
            (Opcode.TEXT, "é after".encode()),
        ]


async def test_a_frame_over_the_limit_is_refused_with_1009():
    with serve(ws_per_message_deflate=False) as (port, _server):
        client = await RawClient(port, "/echo", answer=False).open()
        client.writer.write(_masked(Opcode.TEXT, b"small"))
        await client.read_for(0.3)
        client.writer.write(_masked(Opcode.TEXT, b"x" * (256 * 1024 + 1)))
        await client.read_for(3)
        assert [frame.data for frame in client.of(Opcode.TEXT)] == [b"small"]
        closes = client.of(Opcode.CLOSE)
        assert len(closes) == 1 and int.from_bytes(closes[0].data[:2], "big") == 1009


def _count_parsed(protocol: WebSocketProtocol) -> list[int]:
    """Counts the bytes handed to the websockets state machine from now on."""
    parsed: list[int] = []
    receive_data = protocol.conn.receive_data

    def counting(data: bytes) -> None:
        parsed.append(len(data))
        receive_data(data)

    protocol.conn.receive_data = counting  # type: ignore[method-assign]
    return parsed


@pytest.mark.parametrize("deflate", [False, True])
async def test_whole_data_frames_skip_the_state_machine_unless_an_extension_was_negotiated(deflate):
    with serve(ws_per_message_deflate=deflate) as (port, server):
        async with connect(f"ws://127.0.0.1:{port}/echo", compression="deflate" if deflate else None) as client:
            await _until(lambda: len(_protocols(server)) == 1)
            parsed = _count_parsed(_protocols(server)[0])
            for index in range(20):
                await client.send(f"message {index}")
                assert await client.recv() == f"message {index}"
            assert len(parsed) == (20 if deflate else 0)


async def test_an_unmasked_frame_from_a_client_is_a_protocol_error():
    with serve(ws_per_message_deflate=False) as (port, _server):
        client = await RawClient(port, "/echo", answer=False).open()
        client.writer.write(Frame(Opcode.TEXT, b"plain").serialize(mask=False, extensions=[]))
        await client.read_for(3)
        assert client.of(Opcode.TEXT) == []
        closes = client.of(Opcode.CLOSE)
        assert len(closes) == 1 and int.from_bytes(closes[0].data[:2], "big") == 1002


# -- reading paused behind a backlog only --------------------------------------------------------


async def test_reading_pauses_only_behind_a_backlog_and_loses_nothing():
    HOLD.released.clear()
    with serve(ws_per_message_deflate=False) as (port, server):
        async with connect(f"ws://127.0.0.1:{port}/hold", compression=None) as client:
            await _until(lambda: len(_protocols(server)) == 1)
            protocol = _protocols(server)[0]
            for index in range(BACKLOG - 1):
                await client.send(f"m{index}")
            await _until(lambda: protocol.queue.qsize() == BACKLOG - 1)
            assert protocol.read_paused is False  # uvicorn's own pauses after every message

            await client.send(f"m{BACKLOG - 1}")
            await _until(lambda: protocol.read_paused)
            assert protocol.queue.qsize() == BACKLOG
            for index in range(BACKLOG, BACKLOG + 3):
                await client.send(f"m{index}")
            await asyncio.sleep(0.3)
            assert protocol.queue.qsize() == BACKLOG  # the rest waits in the socket

            HOLD.released.set()
            received = [await client.recv() for _ in range(BACKLOG + 3)]
            assert received == [f"m{index}" for index in range(BACKLOG + 3)]
            await _until(lambda: not protocol.read_paused)


# -- keepalive pings on a shared tick --------------------------------------------------------------


def test_the_keepalive_tick_is_a_quarter_of_the_shorter_period_at_most_a_second():
    assert keepalive_tick(20.0, 20.0) == 1.0
    assert keepalive_tick(2.0, 1.0) == 0.25
    assert keepalive_tick(0.2, None) == 0.05


async def test_timers_due_in_one_tick_run_in_one_wakeup_in_the_order_they_were_set():
    loop = asyncio.get_running_loop()
    tick = 0.05
    timers = CoarseTimers(loop, tick)
    ran: list[int] = []
    target = math.ceil(loop.time() / tick) + 2  # a slot at least a tick away
    for index in range(50):  # due anywhere in the last 90 % of that slot's tick
        delay = target * tick - loop.time() - (index + 1) * tick * 0.9 / 50
        timers.call_later(delay, lambda index=index: ran.append(index))
    cancelled = timers.call_later(target * tick - loop.time() - tick / 2, lambda: ran.append(-1))
    cancelled.cancel()
    await _until(lambda: len(ran) == 50)
    await asyncio.sleep(tick * 2)
    assert ran == list(range(50))
    assert timers.wakeups == 1
    assert len(timers) == 0 and timers.handle is None


async def test_timers_of_three_ticks_take_three_wakeups_and_a_failing_one_spares_the_others():
    loop = asyncio.get_running_loop()
    tick = 0.05
    timers = CoarseTimers(loop, tick)
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        ran: list[str] = []
        first = math.ceil(loop.time() / tick) + 1

        def fail() -> None:
            raise ValueError("broken socket")

        def due(slot: int) -> float:  # in the middle of that slot's tick
            return slot * tick - tick / 2 - loop.time()

        timers.call_later(due(first + 2), lambda: ran.append("third"))
        timers.call_later(due(first + 1), fail)
        timers.call_later(due(first + 1), lambda: ran.append("second"))
        timers.call_later(due(first), lambda: ran.append("first"))
        await _until(lambda: len(ran) == 3)
        assert ran == ["first", "second", "third"]
        assert timers.wakeups <= 3  # three ticks (two in one wake-up if the loop woke a tick late)
        assert [type(context["exception"]) for context in reported] == [ValueError]
    finally:
        loop.set_exception_handler(None)


async def test_a_timer_set_by_a_callback_does_not_hold_back_an_earlier_tick():
    loop = asyncio.get_running_loop()
    tick = 0.05
    timers = CoarseTimers(loop, tick)
    ran: list[str] = []
    first = math.ceil(loop.time() / tick) + 1

    def due(slot: int) -> float:
        return slot * tick - tick / 2 - loop.time()

    def ping() -> None:  # as a keepalive ping sets its pong's deadline, far ahead
        ran.append("ping")
        timers.call_later(due(first + 40), lambda: ran.append("deadline"))

    timers.call_later(due(first), ping)
    timers.call_later(due(first + 2), lambda: ran.append("next ping"))
    await _until(lambda: ran == ["ping", "next ping"], timeout=1.0)  # not 40 ticks later
    assert timers.armed_for == first + 40
    timers.handle.cancel()  # type: ignore[union-attr]


def test_a_cancelled_timer_lets_go_of_its_callback():
    loop = asyncio.new_event_loop()
    try:
        timers = CoarseTimers(loop, 1.0)
        timer = timers.call_later(5, lambda: None)
        timer.cancel()
        assert timer.cancelled and timer.callback is None
    finally:
        loop.close()


async def test_an_answering_socket_is_pinged_and_stays_open():
    with serve(ws_per_message_deflate=False, ws_ping_interval=0.2, ws_ping_timeout=0.2) as (port, _server):
        client = await RawClient(port, "/echo").open()
        await client.read_for(1.5)
        pings = client.of(Opcode.PING)
        assert len(pings) >= 3
        assert all(len(ping.data) == 4 for ping in pings)
        assert client.of(Opcode.CLOSE) == []
        client.write(Frame(Opcode.TEXT, b"still here"))
        await client.read_for(0.3)
        assert [frame.data for frame in client.of(Opcode.TEXT)] == [b"still here"]


async def test_a_socket_that_does_not_answer_its_ping_is_closed_with_1011():
    with serve(ws_per_message_deflate=False, ws_ping_interval=0.2, ws_ping_timeout=0.2) as (port, _server):
        client = await RawClient(port, "/echo", answer=False).open()
        await client.read_for(3)
        assert len(client.of(Opcode.PING)) == 1
        closes = client.of(Opcode.CLOSE)
        assert len(closes) == 1
        assert int.from_bytes(closes[0].data[:2], "big") == 1011
        assert closes[0].data[2:] == b"keepalive ping timeout"
        assert client.protocol.reader.eof


async def test_the_pings_of_many_sockets_share_the_loops_wakeups():
    with serve(ws_per_message_deflate=False, ws_ping_interval=0.4, ws_ping_timeout=0.4) as (port, server):
        clients = await asyncio.gather(*(RawClient(port, "/echo").open() for _ in range(20)))
        await asyncio.gather(*(client.read_for(2.0) for client in clients))
        each = [len(client.of(Opcode.PING)) for client in clients]
        timers = _protocols(server)[0].timers
        assert min(each) >= 2  # about four each on an idle machine
        # uvicorn's own arms two timers a ping, each its own wake-up: here a tick serves the
        # sockets opened within it, their pong deadlines included.
        assert sum(each) >= 2 * timers.wakeups
        assert all(client.of(Opcode.CLOSE) == [] for client in clients)


def test_uvicorn_loads_the_protocol_by_its_import_path():
    config = uvicorn.Config(app, ws=PROTOCOL)
    config.load()
    assert config.ws_protocol_class is websocket_protocol.WebSocketProtocol


@pytest.fixture(autouse=True)
def _released_hold() -> Iterator[None]:
    yield
    HOLD.released.set()


async def test_the_inbox_hands_items_out_in_order_and_a_cancelled_wait_loses_nothing():
    inbox = websocket_protocol.Inbox(asyncio.get_running_loop())
    first = asyncio.ensure_future(inbox.get())
    second = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("a")  # wakes the first getter...
    first.cancel()  # ...which is cancelled before it runs: the wake-up passes to the second
    assert await second == "a"
    assert first.cancelled()
    inbox.put_nowait("b")
    inbox.put_nowait("c")
    assert (inbox.qsize(), inbox.empty()) == (2, False)
    assert [await inbox.get(), await inbox.get()] == ["b", "c"]
    assert (inbox.qsize(), inbox.empty(), len(inbox.waiters)) == (0, True, 0)
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0)
    assert len(inbox.waiters) == 0  # a cancelled waiter leaves nothing behind


# -- what a closed connection leaves --------------------------------------------------------------

SERVER_MODULES = ("engage.", "uvicorn.", "uvloop.", "websockets.server", "websockets.protocol")


def _servers_cyclic_garbage() -> list[str]:
    """What the server's side of the connections left in reference cycles, frozen objects included
    (the test's own client, on asyncio's selector loop, leaves its transports in cycles)."""
    return cyclic_garbage_from(SERVER_MODULES)


@pytest.mark.parametrize("ending", ["close frame", "connection dropped", "ping unanswered"])
async def test_a_connection_frozen_while_open_leaves_nothing_for_the_sweep_once_closed(ending, survivors):
    """engage.asgi.FreezeSurvivors freezes what a full collection finds alive, open sockets' state
    among it: a closed connection must then leave no reference cycle, which only the next sweep
    of the whole heap would free (docs/performance.md, "Eleventh session: full collections, frozen survivors")."""
    with serve(ws_per_message_deflate=False, ws_ping_interval=0.3, ws_ping_timeout=0.3) as (port, server):
        warm = await RawClient(port, "/echo").open()  # what a first connection makes once
        warm.write(Frame(Opcode.CLOSE, b"\x03\xe8"))
        await warm.read_for(2)
        await _until(lambda: _protocols(server) == [])
        _servers_cyclic_garbage()
        clients = [await RawClient(port, "/echo", answer=ending != "ping unanswered").open() for _ in range(5)]
        for client in clients:
            client.write(Frame(Opcode.TEXT, b"hello"))
        await _until(lambda: len(_protocols(server)) == 5)
        while engage.asgi._collected() is None:  # the server's thread was collecting
            await asyncio.sleep(0.01)
        # the hook froze the open connections' state
        assert gc.get_objects(generation=2) == []
        for client in clients:
            if ending == "close frame":
                client.write(Frame(Opcode.CLOSE, b"\x03\xe8"))
            elif ending == "connection dropped":
                client.writer.transport.abort()
        await asyncio.gather(*(client.read_for(3) for client in clients if ending != "connection dropped"))
        await _until(lambda: _protocols(server) == [])
        del clients, client
        await asyncio.sleep(0.1)  # the server's tasks of those connections end
    assert _servers_cyclic_garbage() == []
