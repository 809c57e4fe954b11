"""Channel layers of Parley: an in-process layer for the embedded profile.

The stock ``channels.layers.InMemoryChannelLayer`` walks every channel and
every group membership on each ``receive()`` and ``group_send()``
(``_clean_expired``), creates one task per recipient, deep-copies the message
per recipient, and silently drops a group message for a recipient whose queue
is full. With a few hundred sockets each operation costs milliseconds and the
process collapses. :class:`InProcessChannelLayer` keeps the same API with

- a mailbox per channel and an index group → channels and channel → groups, so
  every operation costs O(1) plus O(members) for ``group_send``;
- one msgpack encoding per ``group_send`` (so a message that would not survive
  Redis fails here too), decoded once for all the members of the process,
  which share that dict and only read it; a ``send()`` to one channel is
  decoded by its receiver;
- bounded mailboxes with an explicit overflow policy: a ``send()`` to a full
  channel raises ``ChannelFull`` (the caller sees it); a ``group_send()`` that
  finds a member full drops the message *for that member*, logs a warning, and
  leaves one ``{"type": "layer.overflow", "dropped": n}`` message in the
  member's mailbox, in the place of the first lost message. The consumer
  handles it (``layer_overflow``) by resyncing from its last sequence, as every
  client can after a reconnect (docs/performance.md, "Channel layers");
- liveness instead of message expiry: a channel nobody has received from for
  ``expiry`` seconds while messages wait is evicted (mailbox dropped, removed
  from its groups) by a sweep that runs at most every ``expiry / 2`` seconds.
  If the consumer was only stuck and comes back, its next ``receive()`` gets a
  ``layer.overflow`` with ``reason: "evicted"`` first, so nothing is lost
  silently. Group memberships do not expire by age: a console open for days
  keeps receiving.

One layer object serves every event loop of the process: a message sent from
a thread running its own loop wakes a receiver on the server's loop through
``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, final

import msgpack
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

logger = logging.getLogger(__name__)

OVERFLOW_TYPE = "layer.overflow"


class _Overflow:
    """Stands in a mailbox for the messages a full mailbox could not take."""

    __slots__ = ("dropped", "reason")

    def __init__(self, reason: str) -> None:
        self.dropped = 0
        self.reason = reason


class _Mailbox:
    __slots__ = ("capacity", "groups", "items", "last_active", "name", "receivers", "size", "waiters")

    def __init__(self, name: str, capacity: int, now: float) -> None:
        self.name = name
        self.capacity = capacity
        self.items: deque[bytes | _Shared | _Overflow] = deque()
        self.size = 0  # messages in ``items``; overflow notices do not count
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.groups: set[str] = set()
        self.receivers = 0
        self.last_active = now

    @property
    def is_unused(self) -> bool:
        return not (self.items or self.waiters or self.groups or self.receivers)


def _encode(message: dict[str, Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


def _decode(payload: bytes) -> dict[str, Any]:
    return msgpack.unpackb(payload, raw=False)


@final  # never subclassed: ``type(item) is _Shared`` tells it from bytes
class _Shared:
    """A group message in the mailboxes of this process's members: decoded once, by the first
    member to take it, and that one dict handed to each (receivers read messages, never change
    them). Decoding per member was a tenth of the layer's CPU per message (docs/performance.md,
    "Seventh session")."""

    __slots__ = ("payload", "value")

    def __init__(self, payload: bytes, value: dict[str, Any] | None = None) -> None:
        self.payload = payload
        self.value = value  # given: the sender's own message, handed over (``group_send_soon``)

    def decoded(self) -> dict[str, Any]:
        value = self.value
        if value is None:  # two threads may both decode: each gets a whole message
            value = self.value = _decode(self.payload)
        return value


def _opened(item: bytes | _Shared | dict[str, Any]) -> dict[str, Any]:
    """A mailbox item as ``receive()`` returns it."""
    if type(item) is _Shared:
        return item.decoded()
    if type(item) is bytes:
        return _decode(item)
    return item  # type: ignore[return-value]


def _log_publish_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("channel layer: publish failed; other processes miss this event", exc_info=future.exception())


def _set_if_pending(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class LocalDelivery:
    """Mailboxes and group membership of one process; the core of Parley's layers.

    Every method is synchronous and short, guarded by one lock, so the core can
    be shared by several event loops and threads.
    """

    def __init__(self, *, capacity: int, capacity_for: Any, expiry: float) -> None:
        self._capacity = capacity
        self._capacity_for = capacity_for
        self.expiry = expiry
        self.mailboxes: dict[str, _Mailbox] = {}
        self.groups: dict[str, set[str]] = {}
        self.evicted: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_sweep = time.monotonic() + expiry / 2
        self.stats: dict[str, int] = {
            "delivered": 0,
            "overflow_dropped": 0,
            "overflow_episodes": 0,
            "full_sends": 0,
            "evicted_channels": 0,
            "evicted_messages": 0,
        }

    # -- mailboxes ---------------------------------------------------------

    def _mailbox(self, channel: str, now: float) -> _Mailbox:
        box = self.mailboxes.get(channel)
        if box is None:
            box = self.mailboxes[channel] = _Mailbox(channel, self._capacity_for(channel), now)
        return box

    def _forget_if_unused(self, box: _Mailbox) -> None:
        if box.is_unused and self.mailboxes.get(box.name) is box:
            del self.mailboxes[box.name]

    @staticmethod
    def _wake(box: _Mailbox) -> None:
        """Wakes one receiver waiting on ``box``, in whatever loop it waits."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        while box.waiters:
            future = box.waiters.popleft()
            if future.done():
                continue
            loop = future.get_loop()
            if loop is running:
                future.set_result(None)
                return
            try:
                loop.call_soon_threadsafe(_set_if_pending, future)
                return
            except RuntimeError:  # that loop is closed: its receiver is gone
                continue

    def _put(self, box: _Mailbox, payload: bytes | _Shared) -> None:
        box.items.append(payload)
        box.size += 1
        self.stats["delivered"] += 1
        if box.waiters:
            self._wake(box)

    def _overflow(self, box: _Mailbox) -> None:
        last = box.items[-1] if box.items else None
        if isinstance(last, _Overflow) and last.reason == "capacity":
            last.dropped += 1
        else:
            marker = _Overflow("capacity")
            marker.dropped = 1
            box.items.append(marker)
            self.stats["overflow_episodes"] += 1
            logger.warning(
                "channel layer: %s is full (%d waiting); dropping group messages for it until it reads, "
                "it will be told to resync",
                box.name,
                box.capacity,
            )
            if box.waiters:
                self._wake(box)
        self.stats["overflow_dropped"] += 1

    # -- operations ----------------------------------------------------------

    def send(self, channel: str, payload: bytes) -> None:
        """Puts ``payload`` in the channel's mailbox; raises ChannelFull when it is full."""
        now = time.monotonic()
        with self._lock:
            self._maybe_sweep(now)
            box = self._mailbox(channel, now)
            if box.size >= box.capacity:
                self.stats["full_sends"] += 1
                self._forget_if_unused(box)
                raise ChannelFull(channel)
            self._put(box, payload)

    def deliver(self, channel: str, payload: bytes) -> None:
        """Like ``send`` for a message that came from another process: a full mailbox gets a notice.

        An unknown channel gets a mailbox, as with ``send``; the sweep evicts it if nobody reads it.
        """
        now = time.monotonic()
        with self._lock:
            self._maybe_sweep(now)
            box = self._mailbox(channel, now)
            if box.size >= box.capacity:
                self._overflow(box)
            else:
                self._put(box, payload)

    def notify_all(self, reason: str) -> int:
        """Leaves a resync notice in every mailbox that belongs to a group; returns how many."""
        with self._lock:
            boxes = [box for box in self.mailboxes.values() if box.groups]
            for box in boxes:
                last = box.items[-1] if box.items else None
                if not (isinstance(last, _Overflow) and last.reason == reason):
                    box.items.append(_Overflow(reason))
                    if box.waiters:
                        self._wake(box)
            return len(boxes)

    def group_send(self, group: str, payload: bytes | _Shared) -> int:
        """Puts ``payload`` in the mailbox of every member; returns how many got it. One
        ``_Shared`` given for each group of a message is decoded once for all of them."""
        now = time.monotonic()
        delivered = 0
        shared = payload if type(payload) is _Shared else _Shared(payload)
        with self._lock:
            self._maybe_sweep(now)
            for channel in self.groups.get(group, ()):
                box = self.mailboxes[channel]
                if box.size >= box.capacity:
                    self._overflow(box)
                else:
                    self._put(box, shared)
                    delivered += 1
        return delivered

    def group_add(self, group: str, channel: str) -> bool:
        """Adds ``channel`` to ``group``; True when the group was new in this process."""
        now = time.monotonic()
        with self._lock:
            self._maybe_sweep(now)
            members = self.groups.get(group)
            created = members is None
            if members is None:
                members = self.groups[group] = set()
            members.add(channel)
            self._mailbox(channel, now).groups.add(group)
        return created

    def group_discard(self, group: str, channel: str) -> bool:
        """Removes ``channel`` from ``group``; True when the group is now empty here."""
        with self._lock:
            members = self.groups.get(group)
            if members is None:
                return False
            members.discard(channel)
            box = self.mailboxes.get(channel)
            if box is not None:
                box.groups.discard(group)
                self._forget_if_unused(box)
            if members:
                return False
            del self.groups[group]
            return True

    def has_group(self, group: str) -> bool:
        return group in self.groups

    def _next(self, box: _Mailbox, channel: str) -> bytes | _Shared | dict[str, Any] | None:
        """Pops the next item of ``box`` (lock held): a payload, a notice, or None."""
        if channel in self.evicted:
            del self.evicted[channel]
            return {"type": OVERFLOW_TYPE, "channel": channel, "dropped": None, "reason": "evicted"}
        if not box.items:
            return None
        item = box.items.popleft()
        if box.items and box.waiters:
            self._wake(box)
        if isinstance(item, _Overflow):
            return {"type": OVERFLOW_TYPE, "channel": channel, "dropped": item.dropped, "reason": item.reason}
        box.size -= 1
        return item

    def take(self, channel: str, future: asyncio.Future[None] | None) -> dict[str, Any] | None:
        """The next message of ``channel``, or None after registering ``future`` as a waiter."""
        now = time.monotonic()
        with self._lock:
            box = self._mailbox(channel, now)
            box.last_active = now
            item = self._next(box, channel)
            if item is None and future is not None:
                box.waiters.append(future)
            else:
                self._forget_if_unused(box)
        return None if item is None else _opened(item)

    def poll(
        self, channel: str, loop: asyncio.AbstractEventLoop, waited: bool
    ) -> bytes | _Shared | dict[str, Any] | asyncio.Future[None]:
        """What ``receive()`` needs in one locked step: the next item, or a future to wait on.

        The item is a payload still to decode (outside the lock) or a notice. A
        future is registered as a waiter, and the receiver counted as receiving
        (not evicted, its mailbox kept) until a call with ``waited`` returns an
        item or it gives up (``abandon``).
        """
        now = time.monotonic()
        with self._lock:
            box = self._mailbox(channel, now)
            box.last_active = now
            item = self._next(box, channel)
            if item is not None:
                if waited and box.receivers > 0:
                    box.receivers -= 1
                self._forget_if_unused(box)
                return item
            if not waited:
                box.receivers += 1
            future: asyncio.Future[None] = loop.create_future()
            box.waiters.append(future)
            return future

    def receiving(self, channel: str, delta: int) -> None:
        now = time.monotonic()
        with self._lock:
            box = self._mailbox(channel, now)
            box.receivers = max(0, box.receivers + delta)
            box.last_active = now
            if delta < 0:
                self._forget_if_unused(box)

    def abandon(self, channel: str, future: asyncio.Future[None], receiving: bool = False) -> None:
        """A receiver gave up waiting: forget its future, pass a consumed wake-up on.

        ``receiving``: it was counted as receiving (``poll``) and is no longer.
        """
        with self._lock:
            box = self.mailboxes.get(channel)
            if box is None:
                return
            if future in box.waiters:
                box.waiters.remove(future)
            if receiving and box.receivers > 0:
                box.receivers -= 1
            if box.items and box.waiters:
                self._wake(box)
            self._forget_if_unused(box)

    def flush(self) -> None:
        with self._lock:
            for box in self.mailboxes.values():
                for future in box.waiters:
                    if not future.done():
                        future.get_loop().call_soon_threadsafe(_set_if_pending, future)
            self.mailboxes = {}
            self.groups = {}
            self.evicted = {}

    # -- liveness --------------------------------------------------------------

    def _maybe_sweep(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + self.expiry / 2
            self._sweep(now)

    def sweep(self, now: float | None = None) -> list[str]:
        """Evicts channels no receiver has read for ``expiry`` seconds while messages wait."""
        with self._lock:
            return self._sweep(time.monotonic() if now is None else now)

    def _sweep(self, now: float) -> list[str]:
        deadline = now - self.expiry
        dead = [
            box
            for box in self.mailboxes.values()
            if box.items and not box.receivers and not box.waiters and box.last_active < deadline
        ]
        for box in dead:
            for group in box.groups:
                members = self.groups.get(group)
                if members is not None:
                    members.discard(box.name)
                    if not members:
                        del self.groups[group]
            del self.mailboxes[box.name]
            self.evicted[box.name] = now
            self.stats["evicted_channels"] += 1
            self.stats["evicted_messages"] += len(box.items)
            logger.warning(
                "channel layer: evicted %s (no receive for %.0f s, %d messages waiting, groups %s)",
                box.name,
                now - box.last_active,
                len(box.items),
                sorted(box.groups),
            )
        forget_before = now - 10 * self.expiry
        for name in [name for name, when in self.evicted.items() if when < forget_before]:
            del self.evicted[name]
        return [box.name for box in dead]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                **self.stats,
                "channels": len(self.mailboxes),
                "groups": len(self.groups),
                "memberships": sum(len(members) for members in self.groups.values()),
                "waiting_messages": sum(len(box.items) for box in self.mailboxes.values()),
            }


async def _receive(core: LocalDelivery, channel: str) -> dict[str, Any]:
    """The next message of ``channel``, waiting for it; a cancelled wait loses nothing.

    One locked step when a message waits; otherwise one to register a waiter
    and one, once woken, to take the message (or wait again if another
    receiver of the channel was first).
    """
    loop = asyncio.get_running_loop()
    waited = False
    while True:
        item = core.poll(channel, loop, waited)
        if not isinstance(item, asyncio.Future):
            return _opened(item)
        try:
            await item
        except BaseException:
            core.abandon(channel, item, receiving=True)
            raise
        waited = True


class _GroupNamesChecked(BaseChannelLayer):
    """Channels' group-name check, once per name: it was three Python calls and a regular
    expression for each group of every message (docs/performance.md, "Ninth session").
    At most 4 096 names are remembered; then they are checked afresh."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._valid_groups: dict[str, None] = {}

    def require_valid_group_name(self, name: Any) -> bool:
        valid = self._valid_groups
        if type(name) is str and name in valid:
            return True
        super().require_valid_group_name(name)  # raises TypeError for a bad name, as in Channels
        if len(valid) >= 4096:
            valid.clear()
        valid[name] = None
        return True


class InProcessChannelLayer(_GroupNamesChecked):
    """The embedded profile's channel layer: one process, indexed, bounded, loop-safe.

    Settings (``CHANNEL_LAYERS["default"]["CONFIG"]``): ``capacity`` (messages
    a channel holds before overflow, default 100), ``channel_capacity``
    (glob → capacity), ``expiry`` (seconds without a receive after which a
    channel with waiting messages is evicted, default 60).
    """

    extensions = ["groups", "flush"]

    def __init__(
        self,
        expiry: float = 60,
        capacity: int = 100,
        channel_capacity: dict[Any, int] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"Unknown InProcessChannelLayer options: {sorted(kwargs)}")
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=None)
        self.channel_capacity = self.compile_capacities(channel_capacity or {})
        self.core = LocalDelivery(capacity=capacity, capacity_for=self.get_capacity, expiry=expiry)

    @property
    def groups(self) -> dict[str, set[str]]:
        """Group name → member channel names of this process, as the stock layer exposes them."""
        return self.core.groups

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Sends to one channel; raises ChannelFull when its mailbox is full."""
        if not isinstance(message, dict):
            raise TypeError("A channel-layer message is a dict.")
        self.require_valid_channel_name(channel)
        self.core.send(channel, _encode(message))

    async def receive(self, channel: str) -> dict[str, Any]:
        if channel not in self.core.mailboxes:  # a mailbox's name was checked when it was made
            self.require_valid_channel_name(channel)
        return await _receive(self.core, channel)

    async def new_channel(self, prefix: str = "specific.") -> str:
        return f"{prefix}local!{secrets.token_hex(12)}"

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        self.core.group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        self.core.group_discard(group, channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if not isinstance(message, dict):
            raise TypeError("A channel-layer message is a dict.")
        self.require_valid_group_name(group)
        if self.core.has_group(group):
            self.core.group_send(group, _encode(message))

    async def group_send_many(self, groups: Iterable[str], message: dict[str, Any]) -> None:
        """``group_send`` to several groups with one encoding (a Parley extension)."""
        self.group_send_soon(groups, message)

    def group_send_soon(self, groups: Iterable[str], message: dict[str, Any], *, handover: bool = False) -> None:
        """``group_send_many`` done before this returns, for a caller that does not wait;
        ``handover`` as for ``RedisFanoutChannelLayer.group_send_soon``."""
        payload = _encode(message)  # also refuses, here as in production, what the wire cannot carry
        shared = _Shared(payload, message if handover else None)
        for group in groups:
            self.require_valid_group_name(group)
            self.core.group_send(group, shared)

    async def flush(self) -> None:
        self.core.flush()

    async def close(self) -> None:
        """Nothing to release: the layer holds no connection."""

    def stats(self) -> dict[str, int]:
        """Counters and sizes, for the benchmark and for operators."""
        return self.core.snapshot()


# --- Redis fan-out --------------------------------------------------------------------


def _resp(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)


# ``_resp(b"PUBLISH", channel, data)`` in one formatting, without a generator per command.
_PUBLISH = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"


class _Link(asyncio.Protocol):
    """A connection to Redis whose incoming bytes go to ``receive`` as they arrive.

    An ``asyncio.Protocol`` rather than streams: what Redis sends is handled in the
    loop's own callback, without a task to wake, a stream buffer or a coroutine per
    read (docs/performance.md, "Tenth session"). ``lost`` is done when the
    connection is; a status line awaited (AUTH's answer) is taken before anything
    reaches ``receive``.
    """

    def __init__(self, receive: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.receive = receive
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = loop.create_future()
        self.status: asyncio.Future[bytes] | None = None
        self.early = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.status is not None:
            data = self.early + data
            end = data.find(b"\r\n")
            if end < 0:
                self.early = data
                return
            status, self.status, self.early = self.status, None, b""
            if not status.done():
                status.set_result(data[:end])
            data = data[end + 2 :]
            if not data:
                return
        self.receive(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # writes from now on go nowhere, as on a closed stream
        if not self.lost.done():
            self.lost.set_result(None)
        if self.status is not None and not self.status.done():
            self.status.set_exception(ConnectionError("closed by Redis"))

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _open_link(url: Any, receive: Any) -> _Link:
    """A connection to the Redis of ``url`` (``rediss://``: TLS; AUTH when it has a password),
    within ten seconds."""
    from urllib.parse import unquote

    loop = asyncio.get_running_loop()
    async with asyncio.timeout(CONNECT_TIMEOUT):
        _, link = await loop.create_connection(
            lambda: _Link(receive, loop), url.hostname or "127.0.0.1", url.port or 6379, ssl=url.scheme == "rediss"
        )
        if not url.password:
            return link
        try:
            password = unquote(url.password).encode()
            auth = [unquote(url.username).encode(), password] if url.username else [password]
            link.status = loop.create_future()
            link.write(_resp(b"AUTH", *auth))
            answer = await link.status
            if not answer.startswith(b"+OK"):
                raise ConnectionError(f"Redis refused AUTH: {answer[:80]!r}")
        except BaseException:  # refused, timed out or cancelled: the connection goes too
            link.close()
            raise
    return link


# Seconds to open a connection to Redis (and authenticate) before giving up.
CONNECT_TIMEOUT = 10.0


class _Subscriber:
    """The process's one subscribing connection to Redis, bound to one event loop.

    Speaks RESP directly: a pub/sub connection only ever reads pushes, so a
    dozen lines replace a client library's per-message machinery, and they run
    in the connection's callback as the bytes arrive (:class:`_Link`).
    ``subscribe`` returns once Redis confirmed the subscription, so a consumer
    that joined a group misses nothing published afterwards. After a lost
    connection it reconnects, subscribes again, and leaves a resync notice in
    every member mailbox: messages published meanwhile are gone, and consumers
    resync by sequence.
    """

    def __init__(self, layer: RedisFanoutChannelLayer, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop
        self.wanted: set[bytes] = set()
        self.pending: dict[bytes, deque[asyncio.Future[None]]] = {}
        self.link: _Link | None = None
        self.connected_once = False
        self.buffer = b""
        self.needed = 0  # bytes the buffer needs before its first frame is whole (0: unknown)
        self.task = loop.create_task(self._run())

    async def subscribe(self, name: bytes) -> None:
        self.wanted.add(name)
        future: asyncio.Future[None] = self.loop.create_future()
        self.pending.setdefault(name, deque()).append(future)
        if self.link is not None:
            self.link.write(_resp(b"SUBSCRIBE", name))
        await future

    def unsubscribe(self, name: bytes) -> None:
        self.wanted.discard(name)
        if self.link is not None:
            self.link.write(_resp(b"UNSUBSCRIBE", name))

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                self.buffer, self.needed = b"", 0
                link = await _open_link(self.layer.url, self.received)
                if self.wanted:
                    link.write(_resp(b"SUBSCRIBE", *sorted(self.wanted)))
                self.link = link
                if self.connected_once:
                    notified = self.layer.core.notify_all("reconnected")
                    logger.warning("channel layer: Redis connection restored; %d channels told to resync", notified)
                self.connected_once, delay = True, 0.1
                await link.lost
                raise ConnectionError("closed by Redis")
            except (OSError, ConnectionError, ValueError, TimeoutError) as error:
                logger.warning("channel layer: Redis subscriber connection lost (%s); retrying in %.1f s", error, delay)
            except Exception:
                logger.exception("channel layer: Redis subscriber failed; reconnecting in %.1f s", delay)
            if self.link is not None:
                self.link.close()
                self.link = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def received(self, data: bytes) -> None:
        """Handles every complete frame Redis sent so far; keeps the rest for the next bytes.

        A frame larger than what arrived is parsed once, when its last byte is in."""
        buffer = self.buffer + data if self.buffer else data
        if len(buffer) < self.needed:
            self.buffer = buffer
            return
        try:
            done, self.needed = self._handle(buffer)
        except Exception:  # out of step with Redis: start afresh on a new connection
            logger.exception("channel layer: unreadable data from Redis; reconnecting")
            self.buffer, self.needed = b"", 0
            if self.link is not None and self.link.transport is not None:
                self.link.transport.abort()
            return
        self.buffer = buffer[done:] if done else buffer

    def _handle(self, buffer: bytes) -> tuple[int, int]:
        """Handles the complete frames at the start of ``buffer``.

        Returns how many bytes they took, and how many the next (incomplete) frame
        needs in all when its header told already (else 0), counted from where it starts.
        """
        find, size = buffer.find, len(buffer)
        pos = 0
        while pos < size:
            start = pos
            end = find(b"\r\n", pos)
            if end < 0:
                return start, 0
            kind = buffer[pos]
            if kind != 42:  # "*"
                if kind == 45:  # "-"
                    logger.error("channel layer: Redis error %r", buffer[pos : min(end, pos + 200)])
                    pos = end + 2
                    continue
                raise ValueError(f"unexpected RESP {buffer[pos : pos + 40]!r}")
            count = int(buffer[pos + 1 : end])
            pos = end + 2
            items: list[bytes | int] = []
            for _ in range(count):
                end = find(b"\r\n", pos)
                if end < 0:
                    return start, 0
                if buffer[pos] == 36 and buffer[pos + 1] == 45:  # "$-1": a null bulk string
                    items.append(b"")
                    pos = end + 2
                elif buffer[pos] == 36:  # "$"
                    begin = end + 2
                    stop = begin + int(buffer[pos + 1 : end])
                    if stop + 2 > size:
                        return start, stop + 2 - start
                    items.append(buffer[begin:stop])
                    pos = stop + 2
                else:
                    items.append(int(buffer[pos + 1 : end]))
                    pos = end + 2
            self._dispatch(items)
        return pos, 0

    def _dispatch(self, items: list[bytes | int]) -> None:
        kind = items[0]
        if kind == b"message":
            try:
                self.layer._arrived(items[1], items[2])  # type: ignore[arg-type]
            except Exception:
                logger.exception("channel layer: could not deliver a message of %r", items[1])
        elif kind == b"subscribe":
            waiting = self.pending.get(items[1])  # type: ignore[arg-type]
            if waiting:
                future = waiting.popleft()
                if not waiting:
                    del self.pending[items[1]]  # type: ignore[arg-type]
                if not future.done():
                    future.set_result(None)

    def close(self) -> None:
        self.task.cancel()
        if self.link is not None:
            self.link.close()
            self.link = None
        for waiting in self.pending.values():
            for future in waiting:
                future.cancel()
        self.pending.clear()


# Publishes waiting for Redis: each a list of (Redis channel, data) pairs and the future of its verdict.
_Batch = list[tuple[list[tuple[bytes, bytes]], asyncio.Future[None]]]


class _Publisher:
    """Publishes of one event loop, in order, over one connection to Redis.

    Each publish is written at once, in its sender's step, and waits for Redis'
    replies to its commands (``:<receivers>`` or ``-<error>``): its future gets
    None, or the first error among its own replies, so errors reach the caller.
    The replies are read in order as they arrive, in the connection's callback
    (:class:`_Link`): no task, stream or coroutine per publish. Publishes made
    while the connection opens wait for it and go out together, in their order;
    if it cannot be opened, or is lost, every publish waiting gets a
    ``redis.exceptions.ConnectionError`` and the next one opens a new connection.
    RESP2, so that no push message (RESP3) can come between the replies; a
    publish needs no database, so none is selected.
    """

    def __init__(self, address: str) -> None:
        from urllib.parse import urlsplit

        self.url = urlsplit(address)
        self.link: _Link | None = None
        self.replies: deque[list[Any]] = deque()  # [replies still due, future, first error], in order
        self.rest = b""  # the start of a reply not wholly received
        self.pending: _Batch = []
        self.connecting: asyncio.Task[None] | None = None
        self.connections = 0  # opened so far

    async def publish(self, items: list[tuple[bytes, bytes]]) -> None:
        """``items``: (Redis channel, data) pairs, published in this order after every earlier call's."""
        await self.submit(items)

    def submit(self, items: list[tuple[bytes, bytes]]) -> asyncio.Future[None]:
        """``publish`` without waiting, from the event loop: the future has Redis' verdict."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        link = self.link
        if link is not None and link.transport is not None and not link.transport.is_closing() and not self.pending:
            self._send(link, [(items, future)])
        else:
            self.pending.append((items, future))
            if self.connecting is None:
                self.connecting = asyncio.get_running_loop().create_task(self._connect_then_send())
        return future

    def _send(self, link: _Link, batch: _Batch) -> None:
        commands = self._commands(batch)
        for items, future in batch:
            if items:
                self.replies.append([len(items), future, None])
            elif not future.done():
                future.set_result(None)
        link.write(commands)

    async def _connect_then_send(self) -> None:
        try:
            if self.link is not None:  # lost, its loss not yet handled: its publishes fail first
                self._lost(self.link)
            self.rest = b""
            link = await _open_link(self.url, self._received)
            self.connections += 1
            link.lost.add_done_callback(lambda _: self._lost(link))
            self.link = link
            batch, self.pending = self.pending, []
            self._send(link, batch)
        except BaseException as error:  # each publish waiting gets it (closed: a ConnectionError too)
            self._fail_pending(error)
            if not isinstance(error, Exception):
                raise
        finally:
            if self.connecting is asyncio.current_task():  # not a later one, after ``aclose``
                self.connecting = None

    def _fail_pending(self, error: BaseException) -> None:
        """Every publish still waiting for the connection to open gets ``error``, as Redis' client's
        ``ConnectionError`` when the connection could not be opened or the layer was closed."""
        if isinstance(error, (OSError, EOFError, TimeoutError, ConnectionError, asyncio.CancelledError)):
            from redis.exceptions import ConnectionError as RedisConnectionError

            cause = "the layer was closed" if isinstance(error, asyncio.CancelledError) else repr(error)
            wrapped = RedisConnectionError(f"channel layer: publish failed: {cause}")
            wrapped.__cause__ = error
            error = wrapped
        batch, self.pending = self.pending, []
        for _, future in batch:
            if not future.done():
                future.set_exception(error)

    def _lost(self, link: _Link) -> None:
        """Every publish still waiting for a reply on ``link`` fails; the next one reconnects."""
        if self.link is not link:
            return
        from redis.exceptions import ConnectionError as RedisConnectionError

        self.link = None
        error = RedisConnectionError("channel layer: publish failed: the connection to Redis was closed or lost")
        replies, self.replies = self.replies, deque()
        for _, future, _ in replies:
            if not future.done():
                future.set_exception(error)

    def _received(self, data: bytes) -> None:
        """Redis' replies, in the order of the commands: each settles its publish when it is the last one due."""
        buffer = self.rest + data if self.rest else data
        find, start, replies = buffer.find, 0, self.replies
        while (end := find(b"\r\n", start)) >= 0:
            kind = buffer[start]
            if not replies or (kind != 58 and kind != 45):  # ":" or "-"
                logger.error("channel layer: unexpected reply from Redis %r; reconnecting", buffer[start : start + 40])
                if self.link is not None and self.link.transport is not None:
                    self.link.transport.abort()
                self.rest = b""
                return
            entry = replies[0]
            if kind == 45 and entry[2] is None:
                from redis.exceptions import ResponseError

                entry[2] = ResponseError(buffer[start + 1 : end].decode(errors="replace"))
            start = end + 2
            entry[0] -= 1
            if entry[0] == 0:
                replies.popleft()
                future = entry[1]
                if not future.done():
                    if entry[2] is None:
                        future.set_result(None)
                    else:
                        future.set_exception(entry[2])
        self.rest = buffer[start:]

    @staticmethod
    def _commands(batch: _Batch) -> bytes:
        return b"".join(
            _PUBLISH % (len(channel), channel, len(data), data) for items, _ in batch for channel, data in items
        )

    async def aclose(self) -> None:
        """Closes the connection; a publish still waiting for Redis gets a ConnectionError."""
        connecting, self.connecting = self.connecting, None
        if connecting is not None:  # its publishes fail now, whether or not it has started
            self._fail_pending(asyncio.CancelledError())
            connecting.cancel()
        link = self.link
        if link is not None:
            self._lost(link)
            link.close()


class RedisFanoutChannelLayer(_GroupNamesChecked):
    """A channel layer for several processes: local delivery first, Redis Pub/Sub between processes.

    Compared with ``channels_redis.pubsub.RedisPubSubChannelLayer`` (measured in
    docs/performance.md): a new consumer costs no Redis round trip (its channel
    is process-local; one Redis channel per process carries direct sends from
    other processes); a group costs one subscription per process, confirmed
    before ``group_add`` returns; a ``group_send`` delivers to this process's
    members at once and publishes once for the others (several groups in one
    pipeline); mailboxes are bounded with the same overflow notices as
    :class:`InProcessChannelLayer`; a lost Redis connection is followed by a
    resync notice to every member channel. Only process-specific channel names
    (``new_channel()``) are supported, which is what consumers use.

    Settings: ``hosts`` (one ``redis://`` or ``rediss://`` URL), ``prefix``,
    ``capacity``, ``channel_capacity``, ``expiry`` as for the in-process layer.
    """

    extensions = ["groups", "flush"]

    def __init__(
        self,
        hosts: list[str] | None = None,
        prefix: str = "parley",
        expiry: float = 60,
        capacity: int = 100,
        channel_capacity: dict[Any, int] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"Unknown RedisFanoutChannelLayer options: {sorted(kwargs)}")
        from urllib.parse import urlsplit

        hosts = hosts or ["redis://127.0.0.1:6379/0"]
        if len(hosts) != 1 or not isinstance(hosts[0], str):
            raise TypeError("RedisFanoutChannelLayer takes exactly one Redis URL in hosts.")
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=None)
        self.channel_capacity = self.compile_capacities(channel_capacity or {})
        self.address = hosts[0]
        self.url = urlsplit(hosts[0])
        self.prefix = prefix
        self.process = secrets.token_hex(8)
        self._origin = bytes.fromhex(self.process)
        self._group_key = f"{prefix}:g:".encode()
        self._process_key = f"{prefix}:p:{self.process}".encode()
        self.core = LocalDelivery(capacity=capacity, capacity_for=self.get_capacity, expiry=expiry)
        self._subscriber_link: _Subscriber | None = None
        self._publishers: dict[asyncio.AbstractEventLoop, _Publisher] = {}
        self._group_ready: dict[str, asyncio.Future[None]] = {}

    @property
    def groups(self) -> dict[str, set[str]]:
        """Group name → member channel names of this process."""
        return self.core.groups

    # -- connections -----------------------------------------------------------

    def _publisher(self) -> _Publisher:
        loop = asyncio.get_running_loop()
        publisher = self._publishers.get(loop)
        if publisher is None:
            for old in [old for old in self._publishers if old.is_closed()]:
                del self._publishers[old]
            publisher = self._publishers[loop] = _Publisher(self.address)
        return publisher

    async def _subscribe(self, name: bytes) -> None:
        """Subscribes on the process's subscriber, from whichever loop calls."""
        loop = asyncio.get_running_loop()
        link = self._subscriber_link
        if link is not None and (link.loop.is_closed() or not link.loop.is_running()):
            link.close()
            link = None
        if link is None:
            link = self._subscriber_link = _Subscriber(self, loop)
            for group in self.core.groups:
                link.wanted.add(self._group_key + group.encode())
            link.wanted.add(self._process_key)
        if link.loop is loop:
            await link.subscribe(name)
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(link.subscribe(name), link.loop))

    def _unsubscribe(self, name: bytes) -> None:
        link = self._subscriber_link
        if link is None or link.loop.is_closed():
            return
        if link.loop is asyncio.get_running_loop():
            link.unsubscribe(name)
        else:
            link.loop.call_soon_threadsafe(link.unsubscribe, name)

    def _arrived(self, name: bytes, data: bytes) -> None:
        """A message from Redis, on the subscriber's loop."""
        if name == self._process_key:
            channel, payload = msgpack.unpackb(data, raw=False)
            self.core.deliver(channel, payload)
        elif name.startswith(self._group_key) and data[:8] != self._origin:
            self.core.group_send(name[len(self._group_key) :].decode(), data[8:])

    # -- channel layer API -----------------------------------------------------

    async def new_channel(self, prefix: str = "specific.") -> str:
        link = self._subscriber_link
        if link is None or link.loop.is_closed() or not link.loop.is_running():
            await self._subscribe(self._process_key)
        return f"{prefix}{self.process}!{secrets.token_hex(12)}"

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """To a channel of this process (ChannelFull when full) or of another process (through Redis)."""
        if not isinstance(message, dict):
            raise TypeError("A channel-layer message is a dict.")
        self.require_valid_channel_name(channel)
        payload = _encode(message)
        owner = channel[channel.find("!") - 16 : channel.find("!")] if "!" in channel else ""
        if owner == self.process:
            self.core.send(channel, payload)
            return
        if not owner:
            raise ValueError("RedisFanoutChannelLayer sends only to process-specific channels (new_channel()).")
        key = f"{self.prefix}:p:{owner}".encode()
        await self._publisher().publish([(key, msgpack.packb([channel, payload], use_bin_type=True))])

    async def receive(self, channel: str) -> dict[str, Any]:
        if channel not in self.core.mailboxes:  # a mailbox's name was checked when it was made
            self.require_valid_channel_name(channel)
        return await _receive(self.core, channel)

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        if self.core.group_add(group, channel):
            ready = self._group_ready[group] = asyncio.get_running_loop().create_future()
            try:
                await self._subscribe(self._group_key + group.encode())
            except BaseException as error:
                self.core.group_discard(group, channel)
                ready.set_exception(error)
                ready.exception()  # retrieved: the caller gets the error itself
                self._group_ready.pop(group, None)
                raise
            ready.set_result(None)
            return
        pending = self._group_ready.get(group)
        if pending is not None and not pending.done():
            await asyncio.shield(pending)

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        if self.core.group_discard(group, channel):
            self._group_ready.pop(group, None)
            self._unsubscribe(self._group_key + group.encode())

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self.group_send_many([group], message)

    async def group_send_many(self, groups: Iterable[str], message: dict[str, Any]) -> None:
        """Delivers to this process's members now and publishes once per group for the others."""
        await self._group_send(groups, message)

    def group_send_soon(self, groups: Iterable[str], message: dict[str, Any], *, handover: bool = False) -> None:
        """``group_send_many`` for a caller in the event loop that does not wait: this process's
        members have the message when this returns; the publish for the other processes is
        written at once (or joins the batch in flight), and its failure is logged.

        ``handover``: the caller gives the message up, and neither it nor anyone else changes it
        again (as Parley's events promise: ``engage.events.Event.as_dict``). This process's
        members then get that very dict instead of a decoded copy, so the message is only
        encoded, for Redis: a decode was 3 to 4 % of a message's CPU under load
        (docs/performance.md, "Ninth session"). Its values are then as the sender made them
        (a tuple stays a tuple, where Redis carries a list)."""
        self._group_send(groups, message, handover).add_done_callback(_log_publish_failure)

    def _group_send(
        self, groups: Iterable[str], message: dict[str, Any], handover: bool = False
    ) -> asyncio.Future[None]:
        if not isinstance(message, dict):
            raise TypeError("A channel-layer message is a dict.")
        groups = list(groups)
        for group in groups:
            self.require_valid_group_name(group)
        payload = _encode(message)
        shared = _Shared(payload, message if handover else None)  # decoded at most once for the members here
        for group in groups:
            if self.core.has_group(group):
                self.core.group_send(group, shared)
        data = self._origin + payload
        return self._publisher().submit([(self._group_key + group.encode(), data) for group in groups])

    async def flush(self) -> None:
        """Forgets every channel and group of this process and closes its connections."""
        self.core.flush()
        self._group_ready.clear()
        if self._subscriber_link is not None:
            self._subscriber_link.close()
            self._subscriber_link = None
        await self.close()

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        publisher = self._publishers.pop(loop, None)
        if publisher is not None:
            await publisher.aclose()

    def stats(self) -> dict[str, int]:
        return self.core.snapshot()
