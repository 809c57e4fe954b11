"""Realtime fan-out: every conversation event goes to channel-layer groups.

Groups (names are stable; adapters join them):

- ``customer.<id>`` — every socket of one customer, whatever the thread: every
  thread event the customer may see (internal notes never go here). A socket
  joins this one group, at the upgrade, so threads created later or on another
  socket need no join; the visitor gateway drops events of other channels.
- ``tenant.<id>.console`` — every agent console of the tenant; consumers filter
  by what the agent may see.

Pushes are a fast path: a client that missed one resyncs by sequence.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.layers import get_channel_layer

from chat import events
from engage.events import loop_safe
from engage.lib.loops import in_event_loop, run_soon

logger = logging.getLogger(__name__)


def customer_group(customer_id: int) -> str:
    return f"customer.{customer_id}"


def tenant_console_group(tenant_id: int) -> str:
    return f"tenant.{tenant_id}.console"


def _visible_to_customer(event: events.ThreadEvent) -> bool:
    return not getattr(event, "is_internal", False)


def groups_for(event: events.Event) -> list[str]:
    groups = [tenant_console_group(event.tenant_id)]
    if isinstance(event, events.ThreadEvent) and _visible_to_customer(event):
        groups.append(customer_group(event.customer_id))
    return groups


async def _send_to_groups(layer: Any, groups: list[str], message: dict[str, Any]) -> None:
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None:  # engage.layers: one encoding for every group
        await send_many(groups, message)
        return
    for group in groups:
        await layer.group_send(group, message)


@loop_safe
def fan_out(event: events.Event) -> None:
    """Sends ``{"type": "chat.event", "event": {...}}`` to each group of the event.

    One trip to the event loop for all the groups. From a worker thread of the
    server, the send is handed to its loop without waiting (``engage.lib.loops``).
    In the loop itself, Parley's layers deliver to this process's sockets at once
    and leave the publish for other processes under way (``group_send_soon``):
    no task per event.
    """
    layer = get_channel_layer()
    if layer is None:  # pragma: no cover - no layer configured
        return
    message = {"type": "chat.event", "event": event.as_dict()}
    groups = groups_for(event)
    send_soon = getattr(layer, "group_send_soon", None)
    if send_soon is not None and in_event_loop():
        try:
            send_soon(groups, message, handover=True)  # events are frozen: members here get this dict
        except Exception:
            logger.exception("realtime: fan-out of %s failed", event.name)
        return
    run_soon(lambda: _send_to_groups(layer, groups, message))


def register() -> None:
    from engage.events import subscribe

    for event_type in (
        events.ThreadCreated,
        events.ThreadUpdated,
        events.MessageCreated,
        events.ContactCreated,
        events.ContactStatusChanged,
        events.ContactAssigned,
        events.ContactFieldsChanged,
        events.MessagesSeen,
        events.MessagesDelivered,
        events.TypingChanged,
        events.CustomerUpdated,
        events.QueuePositionChanged,
    ):
        subscribe(event_type, fan_out)
