"""Domain events (from the realtime groups) to CXone push frames for one visitor socket.

``push_frames`` runs in a worker thread; it loads what a frame shows and never
anything the customer may not see: internal notes are dropped, and every event
must concern the connection's own customer. Frames that are the same for every
socket of a customer (a message, a contact) are cached for a few seconds per
process, so several tabs cost one read. See docs/visitor-protocol.md §Pushes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chat import selectors
from chat.errors import ThreadNotFound
from chat.gateway.protocol import cxone_contact, cxone_message, cxone_push, cxone_thread_view, cxone_user
from chat.gateway.protocol.objects import (
    cxone_contact_from_snapshot,
    cxone_message_from_snapshot,
    cxone_thread_view_from_snapshot,
)
from chat.gateway.state import ConnectionState
from chat.models import Contact, Message, Thread
from chat.snapshots import RenderedCache, usable_snapshot

Frames = list[dict[str, Any]]
# A message's frame is the same for every socket of its customer: built once per process.
FRAMES = RenderedCache(size=2048, seconds=0.5)


def _cached(key: tuple[Any, ...], build: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    frame = FRAMES.get(key)
    if frame is None:
        frame = build()
        if frame is not None:
            FRAMES.put(key, frame)
    return frame


def _thread(state: ConnectionState, event: dict[str, Any]) -> Thread | None:
    thread = state.thread_by_pk(event["thread_id"])
    if thread is None and state.customer is not None:
        try:
            thread = selectors.thread_get(tenant=state.channel.tenant, thread_id=event["thread_id"])
        except ThreadNotFound:
            return None
        if thread.customer_id != state.customer.pk:
            return None
    return thread


def _case_data(state: ConnectionState, contact: Contact) -> dict[str, Any]:
    thread = contact.thread
    return {
        "brand": state.brand_ref,
        "channel": state.channel_ref,
        "case": cxone_contact(contact, thread),
        "thread": cxone_thread_view(thread, state.channel.channel_id),
    }


def _contact(state: ConnectionState, event: dict[str, Any]) -> Contact | None:
    contact = selectors.contact_for_customer(tenant_id=state.channel.tenant_id, contact_id=event["contact_id"])
    if contact is None or contact.thread.customer_id != event["customer_id"]:
        return None
    return contact


def _message_frame(state: ConnectionState, message: Message) -> dict[str, Any]:
    thread = message.thread
    data = {
        "brand": state.brand_ref,
        "channel": state.channel_ref,
        "case": cxone_contact(message.contact, thread) if message.contact else None,
        "thread": cxone_thread_view(thread, state.channel.channel_id),
        "message": cxone_message(message, thread=thread, customer=thread.customer, bot_name=state.bot_name),
    }
    return cxone_push("MessageCreated", "Message", data, created_at=message.created_at)


def _snapshot_frame(state: ConnectionState, snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """``_message_frame`` of the message a snapshot carries, from its plain values (no model instances)."""
    data = {
        "brand": state.brand_ref,
        "channel": state.channel_ref,
        "case": cxone_contact_from_snapshot(snapshot),
        "thread": cxone_thread_view_from_snapshot(snapshot["thread"], state.channel.channel_id),
        "message": cxone_message_from_snapshot(snapshot, bot_name=state.bot_name),
    }
    return cxone_push("MessageCreated", "Message", data, created_at=snapshot["message"]["created_at"])


def message_created(state: ConnectionState, event: dict[str, Any]) -> Frames:
    if event.get("is_internal"):
        return []

    def build() -> dict[str, Any] | None:
        snapshot = usable_snapshot(event, state.channel.tenant_id)
        if snapshot is not None:  # never an internal note: the event says so, and so does its message
            return None if snapshot["message"]["is_internal"] else _snapshot_frame(state, snapshot)
        message = selectors.message_for_customer(tenant_id=state.channel.tenant_id, message_id=event["message_id"])
        return _message_frame(state, message) if message is not None else None

    frame = _cached(("message", event["message_id"]), build)
    if frame is None:
        return []
    state.saw(event["thread_id"], event["sequence"])
    return [frame]


def resync_frames(state: ConnectionState) -> Frames:
    """After the layer dropped pushes for this socket: every visible message it has not been sent."""
    frames: Frames = []
    for thread_pk, sequence in list(state.sequences.items()):
        thread = _thread(state, {"thread_id": thread_pk})  # also threads only pushed to this socket
        if thread is None:
            continue
        for message in selectors.messages_after(thread=thread, after_sequence=sequence, limit=200, for_customer=True):
            message.thread = thread
            frames.append(_message_frame(state, message))
            state.saw(thread_pk, message.sequence)
    return frames


def contact_created(state: ConnectionState, event: dict[str, Any]) -> Frames:
    contact = _contact(state, event)
    if contact is None:
        return []
    data = _case_data(state, contact)
    data["routingQueue"] = _queue_ref(contact.queue_id)
    state.contact_queues[contact.pk] = contact.queue_id
    return [cxone_push("CaseCreated", "Case", data)]


def contact_status_changed(state: ConnectionState, event: dict[str, Any]) -> Frames:
    contact = _contact(state, event)
    if contact is None:
        return []
    data = _case_data(state, contact)
    data["case"]["status"] = event["new_status"]
    data["previousStatus"] = event["old_status"]
    return [cxone_push("CaseStatusChanged", "Case", data)]


def _agent(state: ConnectionState, agent_id: int | None) -> dict[str, Any] | None:
    if agent_id is None:
        return None
    if agent_id not in state.agents:
        state.agents[agent_id] = selectors.agent_get(tenant_id=state.channel.tenant_id, agent_id=agent_id)
    return cxone_user(state.agents[agent_id])


def _queue_ref(queue_id: int | None) -> dict[str, str] | None:
    return {"id": str(queue_id)} if queue_id else None


def contact_assigned(state: ConnectionState, event: dict[str, Any]) -> Frames:
    contact = _contact(state, event)
    if contact is None:
        return []
    frames: Frames = []
    queue_id = event.get("queue_id")
    if contact.pk in state.contact_queues and state.contact_queues[contact.pk] != queue_id:
        transfer = _case_data(state, contact)
        transfer.update(
            routingQueue=_queue_ref(queue_id), previousRoutingQueue=_queue_ref(state.contact_queues[contact.pk])
        )
        initiator = {"type": "user"} if event.get("agent_id") or event.get("previous_agent_id") else {"type": "system"}
        frames.append(
            cxone_push("CaseToRoutingQueueAssignmentChanged", "Case", transfer, context={"initiator": initiator})
        )
    state.contact_queues[contact.pk] = queue_id
    data = _case_data(state, contact)
    data.update(
        inboxAssignee=_agent(state, event["agent_id"]),
        previousInboxAssignee=_agent(state, event["previous_agent_id"]),
        routingQueue=_queue_ref(queue_id),
        routingMode="push",
    )
    frames.append(cxone_push("CaseInboxAssigneeChanged", "Case", data, context={"initiator": {"type": "system"}}))
    return frames


def queue_position_changed(state: ConnectionState, event: dict[str, Any]) -> Frames:
    data = {
        "consumerContact": {"id": str(event["contact_id"])},
        "positionInQueue": int(event["position"]),
        "routingQueue": {"id": str(event["queue_id"])} if event.get("queue_id") else None,
        "isAnyAgentOnlineForQueue": selectors.channel_availability(state.channel) == "online",
        "thread": {"idOnExternalPlatform": thread.public_id} if (thread := _thread(state, event)) else None,
    }
    return [cxone_push("SetPositionInQueue", "Contact", data)]


def typing_changed(state: ConnectionState, event: dict[str, Any]) -> Frames:
    if event.get("actor") != "agent":
        return []  # the visitor's own typing is not echoed to their tabs
    thread = _thread(state, event)
    if thread is None:
        return []
    data = {
        "brand": state.brand_ref,
        "channel": state.channel_ref,
        "thread": cxone_thread_view(thread, state.channel.channel_id),
        "user": _agent(state, event.get("agent_id")),
        "direction": "outbound",
    }
    return [cxone_push("SenderTypingStarted" if event["is_typing"] else "SenderTypingEnded", "SenderAction", data)]


def _receipt(state: ConnectionState, event: dict[str, Any], *, seen: bool) -> Frames:
    if event.get("reader") != "agent":
        return []
    thread = _thread(state, event)
    if thread is None:
        return []
    message = selectors.message_last_of_side(
        thread=thread, direction=Message.Direction.INBOUND, up_to_sequence=event["up_to_sequence"]
    )
    if message is None:
        return []
    rendered = cxone_message(message, thread=thread, customer=thread.customer, bot_name=state.bot_name)
    contact = selectors.contact_current(thread=thread)
    base = {
        "brand": state.brand_ref,
        "channel": state.channel_ref,
        "thread": cxone_thread_view(thread, state.channel.channel_id),
        "message": rendered,
        "contact": cxone_contact(contact, thread) if contact else None,
        "case": cxone_contact(contact, thread) if contact else None,
        "upToSequence": event["up_to_sequence"],
    }
    if not seen:
        delivered = {
            **base,
            "messageDelivered": {
                "deliveredAt": rendered["delivered"][0]["deliveredAt"] if rendered["delivered"] else None
            },
        }
        return [cxone_push("MessageDeliveredToUser", "Message", delivered)]
    seen_at = rendered["readAt"]
    return [
        cxone_push("MessageReadChanged", "Message", base),
        cxone_push("MessageSeenByUser", "Message", {**base, "messageSeen": {"seenAt": seen_at}}),
    ]


def messages_seen(state: ConnectionState, event: dict[str, Any]) -> Frames:
    return _receipt(state, event, seen=True)


def messages_delivered(state: ConnectionState, event: dict[str, Any]) -> Frames:
    return _receipt(state, event, seen=False)


def thread_updated(state: ConnectionState, event: dict[str, Any]) -> Frames:
    # Visitor context (page trail) changes are the visitor's own doing: nothing to show.
    changes = set(event.get("changes") or ()) & {"name", "is_locked", "is_archived"}
    thread = _thread(state, event) if changes else None
    if thread is None:
        return []
    thread.refresh_from_db(fields=["name", "is_locked", "is_archived", "last_sequence"])
    data = {
        "brand": state.brand_ref,
        "channel": state.channel_ref,
        "thread": cxone_thread_view(thread, state.channel.channel_id),
    }
    frames = []
    if "is_archived" in changes and thread.is_archived:
        frames.append(cxone_push("ThreadArchived", "Thread", data))
        changes.discard("is_archived")
    if changes:
        frames.append(cxone_push("ThreadUpdated", "Thread", {**data, "changes": sorted(changes)}))
    return frames


BUILDERS: dict[str, Callable[[ConnectionState, dict[str, Any]], Frames]] = {
    "message.created": message_created,
    "contact.created": contact_created,
    "contact.status_changed": contact_status_changed,
    "contact.assigned": contact_assigned,
    "queue.position_changed": queue_position_changed,
    "typing.changed": typing_changed,
    "messages.seen": messages_seen,
    "messages.delivered": messages_delivered,
    "thread.updated": thread_updated,
}


def push_frames(state: ConnectionState, event: dict[str, Any]) -> Frames:
    """The frames this socket gets for a domain event; [] for events not meant for it."""
    if state.customer is None or event.get("customer_id") != state.customer.pk:
        return []
    if event.get("channel_id") not in (None, state.channel.pk):
        return []
    builder = BUILDERS.get(event.get("event", ""))
    return builder(state, event) if builder is not None else []
