"""Typed domain events of conversations, published by ``chat.services`` after commit."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from engage.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class ThreadEvent(Event):
    """An event about one thread; ``thread_id`` is the internal primary key."""

    thread_id: int
    channel_id: int
    customer_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ThreadCreated(ThreadEvent):
    name: ClassVar[str] = "thread.created"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ThreadUpdated(ThreadEvent):
    """Renamed, locked, unlocked, archived or unarchived; ``changes`` names the fields."""

    name: ClassVar[str] = "thread.updated"
    changes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessageCreated(ThreadEvent):
    name: ClassVar[str] = "message.created"
    message_id: int
    sequence: int
    direction: str
    author_type: str
    is_internal: bool = False
    # The message as written (``chat.snapshots``), so sockets render it without a read.
    snapshot: dict[str, Any] | None = dataclasses.field(default=None, repr=False, compare=False)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContactCreated(ThreadEvent):
    name: ClassVar[str] = "contact.created"
    contact_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContactStatusChanged(ThreadEvent):
    name: ClassVar[str] = "contact.status_changed"
    contact_id: int
    old_status: str
    new_status: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContactAssigned(ThreadEvent):
    """Assigned, transferred or unassigned (``agent_id`` None)."""

    name: ClassVar[str] = "contact.assigned"
    contact_id: int
    agent_id: int | None
    previous_agent_id: int | None
    queue_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContactFieldsChanged(ThreadEvent):
    name: ClassVar[str] = "contact.fields_changed"
    contact_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class CustomerUpdated(Event):
    name: ClassVar[str] = "customer.updated"
    customer_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessagesSeen(ThreadEvent):
    """The ``reader`` side ('customer' or 'agent') has seen messages up to ``up_to_sequence``."""

    name: ClassVar[str] = "messages.seen"
    reader: str
    up_to_sequence: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessagesDelivered(ThreadEvent):
    name: ClassVar[str] = "messages.delivered"
    reader: str
    up_to_sequence: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class TypingChanged(ThreadEvent):
    """Ephemeral: not stored, delivered at once."""

    name: ClassVar[str] = "typing.changed"
    actor: str
    agent_id: int | None
    is_typing: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class QueuePositionChanged(ThreadEvent):
    """A waiting contact's 1-based place in its queue changed (published by routing)."""

    name: ClassVar[str] = "queue.position_changed"
    contact_id: int
    queue_id: int | None
    position: int
