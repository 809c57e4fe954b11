"""Per-connection state of a visitor socket: channel configuration, customer, joined groups.

The channel is the process's cached row (``chat.gateway.sessions``), shared by
every socket of the channel and kept for the life of the socket (configuration
changes apply to new connections); nothing may modify it. Threads the customer
has touched on this socket are cached by public id, so typing, seen marks and
sends on a known thread cost no lookup. The socket joins one group, the
customer's (``chat.realtime``), whatever the thread. Only the consumer's own
task touches this object (handlers run one at a time), so it needs no lock.
Slotted, so an idle socket carries no per-instance ``__dict__``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from chat.models import Customer, Thread
from engage.models import Channel, Membership

MAX_CACHED_THREADS = 200


@dataclasses.dataclass(slots=True)
class ConnectionState:
    channel: Channel
    customer: Customer | None
    legacy_customer_id: str | None
    visitor_id: str
    base_url: str
    channel_name: str = ""
    layer: Any = None
    joined: set[str] = dataclasses.field(default_factory=set)
    pending_joins: list[str] = dataclasses.field(default_factory=list)
    # Touched threads by public id, least recently used first (a dict keeps insertion order).
    threads: dict[str, Thread] = dataclasses.field(default_factory=dict)
    agents: dict[int, Membership | None] = dataclasses.field(default_factory=dict)
    # Per thread (pk), the highest message sequence this socket has been sent: the resync point.
    sequences: dict[int, int] = dataclasses.field(default_factory=dict)
    # ``customer`` when it was last found with every field loaded (``send_message_in_loop``).
    complete_customer: Customer | None = None
    # Per contact (pk), the routing queue this socket last showed, to announce transfers.
    contact_queues: dict[int, int | None] = dataclasses.field(default_factory=dict)

    def saw(self, thread_pk: int, sequence: int) -> None:
        if sequence > self.sequences.get(thread_pk, 0):
            self.sequences[thread_pk] = sequence

    @property
    def brand_ref(self) -> dict[str, int]:
        return {"id": self.channel.brand.brand_id}

    @property
    def channel_ref(self) -> dict[str, str]:
        return {"id": self.channel.channel_id}

    @property
    def bot_name(self) -> str:
        return self.channel.brand.name

    def thread_by_pk(self, thread_pk: int) -> Thread | None:
        for thread in self.threads.values():
            if thread.pk == thread_pk:
                return thread
        return None

    def remember(self, thread: Thread) -> Thread:
        """Caches the thread (its pushes come through the customer's group, joined at bind)."""
        self.threads.pop(thread.public_id, None)
        self.threads[thread.public_id] = thread
        while len(self.threads) > MAX_CACHED_THREADS:
            del self.threads[next(iter(self.threads))]
        return thread

    def join_later(self, group: str) -> None:
        """Queues a group for ``flush_joins``, which the consumer awaits before the socket reads or answers."""
        if group not in self.joined and group not in self.pending_joins:
            self.pending_joins.append(group)

    async def join(self, group: str) -> None:
        if group in self.joined or self.layer is None:
            return
        await self.layer.group_add(group, self.channel_name)
        self.joined.add(group)

    async def flush_joins(self) -> None:
        """Joins the groups ``join_later`` queued (from a worker thread), concurrently."""
        if not self.pending_joins:
            return
        groups = [group for group in self.pending_joins if group not in self.joined]
        self.pending_joins.clear()
        if self.layer is None or not groups:
            return
        if len(groups) == 1:  # the usual case (the customer's group): no task for a gather
            await self.layer.group_add(groups[0], self.channel_name)
        else:
            await asyncio.gather(*(self.layer.group_add(group, self.channel_name) for group in groups))
        self.joined.update(groups)

    async def leave_all(self) -> None:
        if self.layer is None:
            return
        for group in list(self.joined):
            await self.layer.group_discard(group, self.channel_name)
        self.joined.clear()
