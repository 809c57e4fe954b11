"""Parley's WebSocket protocol for uvicorn: ``--ws engage.lib.websocket_protocol:WebSocketProtocol``.

uvicorn's own protocol (``websockets-sansio``, built on the ``websockets``
library's sans-I/O state machine) with three per-socket costs taken out
(docs/performance.md, "Tenth session"):

- **Keepalive pings share a tick** (:class:`CoarseTimers`). uvicorn arms a timer
  per socket for each ping and another for its pong's deadline, so every
  socket's ping wakes the process on its own: with 500 idle sockets and the
  20 s interval, 25 wake-ups a second and two thirds of the idle process's CPU.
  Here the pings due within the same tick (at most a second) go out in one
  wake-up, and their pongs come back together. Intervals, deadlines and the
  1011 close of a socket whose pong is late are uvicorn's, rounded up to the
  tick.
- **Reading pauses only when the application falls behind.** uvicorn stops
  reading the socket after every message and starts again once the
  application took it: two ``epoll_ctl`` system calls and two transport calls a
  frame. Here reading pauses once :data:`BACKLOG` messages wait (the same
  back-pressure, a few messages later) and resumes when they are taken. They
  wait in an :class:`Inbox`, a deque with one waiter, where uvicorn uses an
  ``asyncio.Queue``.
- **A data frame is written in one call** when nothing stands in the way: the
  connection is open, no extension (permessage-deflate) was negotiated, no
  fragmented message is in progress and the transport is not holding back
  writes. The frame's header is built here and written with its payload; in
  every other case, and for every other message, uvicorn's code runs.
- **A data frame is read in one call** on the same conditions, when the bytes
  received start with whole, masked, unfragmented text or binary frames no
  larger than the limit (:func:`whole_frames`): each is unmasked and handed to
  the application as uvicorn would. The first byte that is anything else (a
  control frame, a fragment, a frame cut by the read, one too large or
  unmasked) and all after it go to the ``websockets`` state machine, which
  was left waiting for a frame and takes it from there.

Everything else (the handshake, close frames, pings from the client, invalid
UTF-8, oversized messages, ``websocket.http.response``) is uvicorn's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import apply_mask  # websockets' C version (speedups) where it is built
from websockets.protocol import State
from websockets.streams import StreamReader

if TYPE_CHECKING:
    from uvicorn._types import WebSocketReceiveEvent

logger = logging.getLogger(__name__)

# Messages received and not yet taken by the application before the socket stops being read.
BACKLOG = 4

# The longest tick keepalive timers are rounded to; shorter when the interval is short (tests).
MAX_TICK = 1.0

_TEXT, _BINARY = 0x81, 0x82  # FIN set, with the opcode of a text or a binary frame
_MEDIUM = struct.Struct("!BBH")  # 126 ≤ length < 65 536: a 16-bit length
_LONG = struct.Struct("!BBQ")  # longer: a 64-bit length


def frame_header(first: int, size: int) -> bytes:
    """The header of a server's (unmasked) frame: first byte ``first``, a payload of ``size`` bytes."""
    if size < 126:
        return bytes((first, size))
    if size < 65536:
        return _MEDIUM.pack(first, 126, size)
    return _LONG.pack(first, 127, size)


# Between two frames of an open connection, the websockets parser waits in this generator, with
# nothing buffered (``Protocol.parse``, delegated to by ``ServerProtocol.parse`` after the handshake).
_WAITING_FOR_A_FRAME = StreamReader.at_eof.__code__


def _between_frames(parser: Any) -> bool:
    """Whether the parser (a generator) waits for the start of a frame, not inside one."""
    inner = parser.gi_yieldfrom
    while inner is not None:
        if inner.gi_code is _WAITING_FOR_A_FRAME:
            return True
        inner = inner.gi_yieldfrom
    return False


def whole_frames(data: bytes, max_size: int | None) -> tuple[list[tuple[bool, bytes]], int]:
    """The whole, masked, unfragmented text and binary frames (no larger than ``max_size``) that
    ``data`` starts with, as (is text, unmasked payload), and the offset where the rest starts:
    the first byte of anything else, or of a frame not yet wholly received."""
    frames: list[tuple[bool, bytes]] = []
    position, size = 0, len(data)
    while position + 6 <= size:
        first, second = data[position], data[position + 1]
        if (first != _TEXT and first != _BINARY) or second < 0x80:  # not FIN + text/binary, or unmasked
            break
        length, start = second & 0x7F, position + 2
        if length == 126:
            length, start = int.from_bytes(data[start : start + 2], "big"), start + 2
        elif length == 127:
            length, start = int.from_bytes(data[start : start + 8], "big"), start + 8
        end = start + 4 + length
        if end > size or (max_size is not None and length > max_size):
            break
        frames.append((first == _TEXT, apply_mask(data[start + 4 : end], data[start : start + 4])))
        position = end
    return frames, position


class Timer:
    """A timer of :class:`CoarseTimers`; ``cancel()`` as an ``asyncio.TimerHandle``."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback: Callable[[], object] | None = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Marks it cancelled and lets go of its callback (a closed socket's protocol, say) at once."""
        self.cancelled = True
        self.callback = None


class CoarseTimers:
    """Timers of one event loop rounded up to a tick: every timer due in a tick runs in one wake-up.

    A timer runs no earlier than asked and at most a tick later. One loop timer is
    armed, for the earliest tick that holds a timer; a cancelled timer stays in its
    tick, marked, until that tick comes (at most two per socket here: its ping and
    its pong's deadline).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float) -> None:
        self.loop = loop
        self.tick = tick
        self.slots: dict[int, list[Timer]] = {}
        self.handle: asyncio.TimerHandle | None = None
        self.armed_for: int | None = None
        self.running = False  # in ``_run``, which arms the loop's timer itself once done
        self.wakeups = 0  # how often the loop woke for these timers

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        slot = math.ceil((self.loop.time() + delay) / self.tick)
        timer = Timer(callback)
        timers = self.slots.get(slot)
        if timers is not None:
            timers.append(timer)
            return timer
        self.slots[slot] = [timer]
        if not self.running and (self.armed_for is None or slot < self.armed_for):
            self._arm(slot)
        return timer

    def __len__(self) -> int:
        """Timers waiting, cancelled ones included."""
        return sum(len(timers) for timers in self.slots.values())

    def _arm(self, slot: int) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.armed_for = slot
        self.handle = self.loop.call_at(slot * self.tick, self._run)

    def _run(self) -> None:
        armed, now = self.armed_for, self.loop.time()
        self.handle = self.armed_for = None
        self.wakeups += 1
        due = sorted(slot for slot in self.slots if (armed is not None and slot <= armed) or slot * self.tick <= now)
        self.running = True
        try:
            for slot in due:
                for timer in self.slots.pop(slot):
                    callback = timer.callback
                    if timer.cancelled or callback is None:
                        continue
                    try:
                        callback()
                    except Exception as error:  # one socket's failure is not the others'
                        self.loop.call_exception_handler(
                            {"message": "a keepalive timer failed", "exception": error, "handle": timer}
                        )
        finally:
            self.running = False
            if self.slots:  # the earliest tick left, whatever the callbacks set meanwhile
                self._arm(min(self.slots))


_timers: dict[asyncio.AbstractEventLoop, dict[float, CoarseTimers]] = {}


def coarse_timers(loop: asyncio.AbstractEventLoop, tick: float) -> CoarseTimers:
    """The loop's timers of that tick, made on first use (those of closed loops are let go then)."""
    by_tick = _timers.get(loop)
    if by_tick is None:
        for closed in [old for old in _timers if old.is_closed()]:
            del _timers[closed]
        by_tick = _timers[loop] = {}
    timers = by_tick.get(tick)
    if timers is None:
        timers = by_tick[tick] = CoarseTimers(loop, tick)
    return timers


def keepalive_tick(interval: float | None, timeout: float | None) -> float:
    """A quarter of the shorter of the two, and at most :data:`MAX_TICK`."""
    shortest = min(value for value in (interval, timeout, MAX_TICK * 4) if value)
    return min(MAX_TICK, shortest / 4)


class Inbox:
    """What a socket received and its application has not taken yet: the part of
    ``asyncio.Queue`` uvicorn's protocol uses (``put_nowait``, ``get``, ``empty``, ``qsize``),
    in one call each where the queue makes five (its size limit and task counting)."""

    __slots__ = ("items", "loop", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.items: deque[Any] = deque()
        self.loop = loop
        self.waiters: deque[asyncio.Future[None]] = deque()

    def put_nowait(self, item: Any) -> None:
        self.items.append(item)
        self._wake_one()

    def _wake_one(self) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def get(self) -> Any:
        """The oldest item, waiting for one; a cancelled wait takes nothing and passes its wake-up on."""
        items = self.items
        while not items:
            waiter = self.loop.create_future()
            self.waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    if items:
                        self._wake_one()
                else:
                    with contextlib.suppress(ValueError):
                        self.waiters.remove(waiter)
                raise
        return items.popleft()

    def empty(self) -> bool:
        return not self.items

    def qsize(self) -> int:
        return len(self.items)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol with shared keepalive ticks, reading paused only
    behind a backlog, and data frames read and written in one call (the module's docstring says why)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox(self.loop)  # type: ignore[assignment]
        self.timers = coarse_timers(self.loop, keepalive_tick(self.ping_interval, self.ping_timeout))

    # -- keepalive on the shared tick -------------------------------------------

    def schedule_ping(self) -> None:
        assert self.ping_interval is not None
        delay = max(0.0, self.ping_interval - self.last_ping_rtt)
        self.ping_timer = self.timers.call_later(delay, self.send_keepalive_ping)  # type: ignore[assignment]

    def send_keepalive_ping(self) -> None:
        self.ping_timer = None
        if self.close_sent or self.transport.is_closing():
            return
        # Four random bytes tell this ping's pong from a stale or unsolicited one (``handle_pong``).
        self.pending_ping_payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at = self.loop.time()
        self.conn.send_ping(self.pending_ping_payload)
        self.transport.write(b"".join(self.conn.data_to_send()))
        if self.ping_timeout is not None:
            self.pong_timer = self.timers.call_later(self.ping_timeout, self.keepalive_timeout)  # type: ignore[assignment]
        else:
            self.schedule_ping()

    # -- data frames read in one call, reading paused behind a backlog only ---------------

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if (
            self.handshake_complete
            and not self.close_sent
            and conn.state is State.OPEN
            and not conn.extensions
            and conn.current_size is None
            and not conn.reader.buffer
            and _between_frames(conn.parser)
        ):
            frames, position = whole_frames(data, conn.max_message_size)
            for is_text, payload in frames:
                self.curr_msg_data_type = "text" if is_text else "bytes"
                self.frames = [payload]
                self.send_receive_event_to_app()
                if self.close_sent:  # invalid UTF-8 closed it: what follows is discarded, as websockets does
                    return
            if position == len(data):
                return
            data = data[position:]
        super().data_received(data)

    def send_receive_event_to_app(self) -> None:
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return  # past websocket.close: reads go on until the peer's close arrives
        if self.curr_msg_data_type == "text":
            try:
                message: WebSocketReceiveEvent = {"type": "websocket.receive", "text": data.decode()}
            except UnicodeDecodeError:
                self.logger.info("A WebSocket client sent invalid UTF-8 in a text message; closing with 1007.")
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
        else:
            message = {"type": "websocket.receive", "bytes": data}
        self.queue.put_nowait(message)
        if not self.read_paused and self.queue.qsize() >= BACKLOG:
            self.read_paused = True
            self.transport.pause_reading()

    # -- data frames in one call ----------------------------------------------------

    async def send(self, message: Any) -> None:
        if (
            message["type"] == "websocket.send"
            and self.handshake_complete
            and not self.close_sent
            and self.initial_response is None
            and not self.disconnected
            and self.writable.is_set()
        ):
            conn = self.conn
            if conn.state is State.OPEN and not conn.extensions and not conn.expect_continuation_frame:
                payload, first = message.get("bytes"), _BINARY  # bytes first, as uvicorn reads them
                if payload is None:
                    text = message.get("text")
                    payload, first = (None, _TEXT) if text is None else (text.encode(), _TEXT)
                if payload is not None:
                    self.transport.write(frame_header(first, len(payload)) + payload)
                    return
        await super().send(message)
