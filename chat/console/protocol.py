"""The agent console's WebSocket protocol (``ws/console``), version 1.

Every frame is a JSON object with a ``type``. The frame shapes are defined here
and nowhere else; docs/agent-protocol.md describes them for client authors.

Client → server:

- ``{"type": "resync", "threads": {"<thread id>": <last sequence seen>, …}, "ref"?}``
- ``{"type": "typing", "thread_id": int, "is_typing": bool, "ref"?}``
- ``{"type": "seen", "thread_id": int, "up_to_sequence"?: int, "ref"?}``
- ``{"type": "send", "thread_id": int, "client_id": str, "text"?, "content_type"?, "content"?,
  "is_internal"?, "attachment_ids"?, "ref"?}``
- ``{"type": "ping", "ref"?}``

Server → client:

- ``welcome`` once after the handshake: protocol version, agent, tenant;
- ``messages`` answers a resync, one per thread (messages after the sequence);
- ``resynced`` closes a resync answer;
- ``message`` pushes one new message (notes included) of a readable thread;
- ``event`` pushes any other domain event (contact, thread, typing, receipts,
  presence, queue positions) as its wire dictionary;
- ``ack`` answers typing/seen; ``sent`` answers send with the message; ``pong`` answers ping;
- ``error`` with ``code`` and ``message`` (and the request's ``ref``).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Literal

from chat.content import CONTENT_TYPES

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_RESYNC_THREADS = 50
RESYNC_PAGE = 200
# A ``send`` frame takes what the REST endpoint takes (MessageInputSerializer).
MAX_CLIENT_ID = 200
MAX_ATTACHMENTS = 10

# Close codes (4000 to 4999 are the application's).
CLOSE_NOT_MEMBER = 4403
CLOSE_PROTOCOL = 4400
CLOSE_MEMBERSHIP_CHANGED = 4409  # the agent's role changed, or they left: reconnect


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, ref: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.ref = code, message, ref


@dataclasses.dataclass(frozen=True)
class Resync:
    threads: dict[int, int]
    ref: Any = None
    type: Literal["resync"] = "resync"


@dataclasses.dataclass(frozen=True)
class Typing:
    thread_id: int
    is_typing: bool
    ref: Any = None
    type: Literal["typing"] = "typing"


@dataclasses.dataclass(frozen=True)
class Seen:
    thread_id: int
    up_to_sequence: int | None
    ref: Any = None
    type: Literal["seen"] = "seen"


@dataclasses.dataclass(frozen=True)
class Send:
    """A reply (or, with ``is_internal``, a note); ``client_id`` makes a retry safe."""

    thread_id: int
    client_id: str
    text: str = ""
    content_type: str = "TEXT"
    content: dict[str, Any] | None = None
    is_internal: bool = False
    attachment_ids: tuple[uuid.UUID, ...] = ()
    ref: Any = None
    type: Literal["send"] = "send"


@dataclasses.dataclass(frozen=True)
class Ping:
    ref: Any = None
    type: Literal["ping"] = "ping"


ClientFrame = Resync | Typing | Seen | Send | Ping


def _int(value: Any, name: str, ref: Any, *, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ProtocolError("invalid_frame", f"{name} must be a whole number ≥ {low}.", ref)
    return value


def _ref(frame: dict[str, Any]) -> Any:
    ref = frame.get("ref")
    return ref if isinstance(ref, (str, int)) and not isinstance(ref, bool) else None


def _send(frame: dict[str, Any], ref: Any) -> Send:
    thread_id = _int(frame.get("thread_id"), "thread_id", ref, low=1)
    client_id = frame.get("client_id")
    if not isinstance(client_id, str) or not 0 < len(client_id.strip()) <= MAX_CLIENT_ID:
        raise ProtocolError("invalid_frame", f"client_id is a string of 1 to {MAX_CLIENT_ID} characters.", ref)
    text = frame.get("text", "")
    if not isinstance(text, str):
        raise ProtocolError("invalid_frame", "text must be a string.", ref)
    content_type = frame.get("content_type", "TEXT")
    if content_type not in CONTENT_TYPES:
        raise ProtocolError("invalid_frame", f"content_type is one of {', '.join(CONTENT_TYPES)}.", ref)
    content = frame.get("content")
    if content is not None and not isinstance(content, dict):
        raise ProtocolError("invalid_frame", "content must be an object.", ref)
    is_internal = frame.get("is_internal", False)
    if not isinstance(is_internal, bool):
        raise ProtocolError("invalid_frame", "is_internal must be true or false.", ref)
    ids = frame.get("attachment_ids", [])
    if not isinstance(ids, list) or len(ids) > MAX_ATTACHMENTS:
        raise ProtocolError("invalid_frame", f"attachment_ids lists up to {MAX_ATTACHMENTS} attachment ids.", ref)
    try:
        attachment_ids = tuple(uuid.UUID(value) for value in ids)
    except (TypeError, ValueError, AttributeError):
        raise ProtocolError("invalid_frame", "Attachment ids are UUIDs.", ref) from None
    return Send(
        thread_id=thread_id,
        client_id=client_id.strip(),
        text=text,
        content_type=content_type,
        content=content,
        is_internal=is_internal,
        attachment_ids=attachment_ids,
        ref=ref,
    )


def parse_client_frame(frame: Any) -> ClientFrame:
    """Decodes one client frame or raises ProtocolError."""
    if not isinstance(frame, dict):
        raise ProtocolError("invalid_frame", "A frame is a JSON object.")
    ref = _ref(frame)
    kind = frame.get("type")
    if kind == "send":
        return _send(frame, ref)
    if kind == "ping":
        return Ping(ref=ref)
    if kind == "resync":
        threads = frame.get("threads")
        if not isinstance(threads, dict) or len(threads) > MAX_RESYNC_THREADS:
            raise ProtocolError(
                "invalid_frame", f"threads maps up to {MAX_RESYNC_THREADS} thread ids to sequences.", ref
            )
        parsed: dict[int, int] = {}
        for key, value in threads.items():
            try:
                thread_id = int(key)
            except (TypeError, ValueError):
                raise ProtocolError("invalid_frame", "Thread ids are whole numbers.", ref) from None
            parsed[thread_id] = _int(value, "A last sequence", ref)
        return Resync(threads=parsed, ref=ref)
    if kind == "typing":
        if not isinstance(frame.get("is_typing"), bool):
            raise ProtocolError("invalid_frame", "is_typing must be true or false.", ref)
        return Typing(
            thread_id=_int(frame.get("thread_id"), "thread_id", ref, low=1), is_typing=frame["is_typing"], ref=ref
        )
    if kind == "seen":
        up_to = frame.get("up_to_sequence")
        return Seen(
            thread_id=_int(frame.get("thread_id"), "thread_id", ref, low=1),
            up_to_sequence=None if up_to is None else _int(up_to, "up_to_sequence", ref),
            ref=ref,
        )
    raise ProtocolError("unknown_type", f"Unknown frame type {kind!r}.", ref)


# --- Server frames ---------------------------------------------------------------


def welcome_frame(*, agent: dict[str, Any], tenant: dict[str, Any]) -> dict[str, Any]:
    return {"type": "welcome", "protocol": PROTOCOL_VERSION, "agent": agent, "tenant": tenant}


def messages_frame(
    *, thread_id: int, messages: list[dict[str, Any]], last_sequence: int, has_more: bool, ref: Any = None
) -> dict[str, Any]:
    return {
        "type": "messages",
        "thread_id": thread_id,
        "messages": messages,
        "last_sequence": last_sequence,
        "has_more": has_more,
        "ref": ref,
    }


def resynced_frame(*, ref: Any = None) -> dict[str, Any]:
    return {"type": "resynced", "ref": ref}


def message_frame(*, thread_id: int, message: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "thread_id": thread_id, "message": message}


def event_frame(*, event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "event": event}


def ack_frame(*, ref: Any = None, **values: Any) -> dict[str, Any]:
    return {"type": "ack", "ref": ref, **values}


def sent_frame(*, thread_id: int, message: dict[str, Any], created: bool, ref: Any = None) -> dict[str, Any]:
    return {"type": "sent", "ref": ref, "thread_id": thread_id, "created": created, "message": message}


def pong_frame(*, ref: Any = None) -> dict[str, Any]:
    return {"type": "pong", "ref": ref}


def error_frame(*, code: str, message: str, ref: Any = None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "ref": ref}
