"""The domain event bus.

Services publish typed, frozen events; subscribers (registered in each app's
``apps.py`` ``ready()``) react. An event is delivered only after the
transaction that produced it commits, and never if it rolls back. Outside a
transaction it is delivered at once. A failing subscriber is logged and does
not stop the others (``robust=True``). See docs/architecture.md.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """Base class of every domain event: past-tense name, dotted wire name."""

    name: ClassVar[str] = "event"
    tenant_id: int

    def as_dict(self) -> dict[str, Any]:
        """The event as a plain dict, for the wire. Values are shared, not copied: events are
        frozen and their values (a snapshot's dict included) are never changed after publishing.

        An event's instance dict holds its fields and nothing else, in their order (an event
        has no slots, no ``__post_init__`` and no cached property: a test holds every event
        type to it), so it is copied whole rather than read field by field."""
        return {"event": self.name, **self.__dict__}


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]

_subscribers: dict[type[Event], list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Register ``handler`` for ``event_type`` and its subclasses (idempotent)."""
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def unsubscribe(event_type: type[Event], handler: Handler) -> None:
    if handler in _subscribers[event_type]:
        _subscribers[event_type].remove(handler)


def handlers_for(event: Event) -> list[Handler]:
    found: list[Handler] = []
    for event_type in type(event).__mro__:
        found.extend(_subscribers.get(event_type, ()))
    return found


def dispatch(event: Event) -> None:
    """Call every subscriber of ``event`` now; one failure does not stop the rest."""
    for handler in handlers_for(event):
        try:
            handler(event)
        except Exception:
            logger.exception("subscriber %r failed on %s", handler, event.name)


def loop_safe(handler: Callable[[E], None]) -> Callable[[E], None]:
    """Marks a subscriber that may run in the event loop: it never blocks and never queries."""
    handler.loop_safe = True  # type: ignore[attr-defined]
    return handler


def dispatch_in_loop(event: Event) -> Callable[[], None] | None:
    """Delivers ``event`` from the event loop, after a statement that committed on its own.

    Loop-safe subscribers run now. The others may block or query, which the loop
    must not do: they come back as one callable to run in a worker thread (None
    when there are none). A subscriber whose ``applies(event)`` says no is skipped
    here, so one that rarely has work costs no thread switch.
    """
    later = []
    for handler in handlers_for(event):
        if getattr(handler, "loop_safe", False):
            try:
                handler(event)
            except Exception:
                logger.exception("subscriber %r failed on %s", handler, event.name)
            continue
        applies = getattr(handler, "applies", None)
        if applies is None or applies(event):
            later.append(handler)
    if not later:
        return None

    def rest() -> None:
        for handler in later:
            try:
                handler(event)
            except Exception:
                logger.exception("subscriber %r failed on %s", handler, event.name)

    return rest


def publish(event: Event, *, using: str | None = None) -> None:
    """Deliver ``event`` after the current transaction commits (never on rollback)."""
    transaction.on_commit(lambda: dispatch(event), using=using)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PresenceChanged(Event):
    """An agent's presence or capacity changed (``engage.services.membership_set_presence``)."""

    name: ClassVar[str] = "presence.changed"
    membership_id: int
    presence: str
    previous_presence: str
    max_concurrent_contacts: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccessChanged(Event):
    """What the tenant's agents may read changed: a queue's agents or channels, a queue or a
    channel added or removed, a membership's role, a membership added or removed
    (``engage.signals``). Open agent consoles read their rights again."""

    name: ClassVar[str] = "access.changed"
