"""Envelopes of the CXone Chat Web SDK 2.2.0 protocol: parsing client frames, building server frames.

Nothing outside this package builds a frame by hand. Server frames are JSON
text; the three response shapes are the postback, the push and the error
(docs/visitor-protocol.md §Frames). A push always carries an ``eventId``; a
success frame never carries an ``error`` key, and a postback never a top-level
``data`` key, because the SDK's normaliser destroys such frames.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from typing import Any

import orjson
from django.utils import timezone

from engage.lib import jsontext

# Inbound frames above this are refused unparsed; outbound frames above it go the URL way (EventInS3).
MAX_INBOUND_FRAME_BYTES = 128 * 1024
MAX_OUTBOUND_FRAME_BYTES = 128 * 1024
PONG = '"pong"'
MAX_EVENT_ID = 100

# Per request type, the error code CXone clients expect; anything else fails as InconsistentData.
CXONE_ERROR_CODES = {
    "AuthorizeCustomer": "ConsumerAuthorizationFailed",
    "AuthorizeConsumer": "ConsumerAuthorizationFailed",
    "ReconnectConsumer": "ConsumerReconnectionFailed",
    "RefreshToken": "TokenRefreshingFailed",
    "SendMessage": "SendingMessageFailed",
    "SendOutbound": "SendingMessageFailed",
    "SendOfflineMessage": "SendingOfflineMessageFailed",
    "RecoverThread": "RecoveringThreadFailed",
    "RecoverLivechat": "RecoveringLivechatFailed",
    "SendTranscript": "SendingTranscriptFailed",
    "CreateInvitationToGroupChat": "CreatingInvitationToGroupChatFailed",
    "SendEmailInvitationToGroupChat": "SendingEmailInvitationToGroupChatFailed",
    "JoinGroupChat": "JoiningGroupChatFailed",
}
INCONSISTENT_DATA = "InconsistentData"


class ProtocolError(Exception):
    """A client frame Parley cannot read; answered with an error frame, never silence."""

    def __init__(self, reason: str, message: str, *, event_id: str | None = None, event_type: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.event_id = event_id
        self.event_type = event_type


@dataclasses.dataclass(frozen=True)
class ClientFrame:
    """A parsed request: ``{"action", "eventId", "payload": {"eventType", "data", …}}``."""

    action: str
    event_id: str
    event_type: str
    data: dict[str, Any]
    payload: dict[str, Any]

    @property
    def thread_public_id(self) -> str | None:
        thread = self.data.get("thread")
        value = thread.get("idOnExternalPlatform") if isinstance(thread, dict) else None
        return value if isinstance(value, str) and value else None


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    """``{"action": "heartbeat"}``, answered with the JSON string ``"pong"``."""


def cxone_parse_frame(text: str | bytes | None) -> ClientFrame | Heartbeat:
    """Reads one client frame or raises ProtocolError with as much context as could be read."""
    if text is None or isinstance(text, bytes):
        raise ProtocolError("binary_frame", "Frames are JSON text.")
    raw = text.encode() if len(text) <= MAX_INBOUND_FRAME_BYTES else None
    if raw is None or len(raw) > MAX_INBOUND_FRAME_BYTES:
        raise ProtocolError("frame_too_large", f"Frames are limited to {MAX_INBOUND_FRAME_BYTES} bytes.")
    try:
        frame = _loads(text, raw)
    except ValueError:
        raise ProtocolError("malformed_frame", "The frame is not JSON.") from None
    if not isinstance(frame, dict):
        raise ProtocolError("malformed_frame", "A frame is a JSON object.")
    action = frame.get("action")
    if action == "heartbeat":
        return Heartbeat()
    event_id = frame.get("eventId")
    event_id = event_id if isinstance(event_id, str) and 0 < len(event_id) <= MAX_EVENT_ID else None
    payload = frame.get("payload")
    event_type = payload.get("eventType") if isinstance(payload, dict) else None
    event_type = event_type if isinstance(event_type, str) else ""
    if action not in {"chatWindowEvent", "register", "outbound"}:
        raise ProtocolError("unknown_action", f"Unknown action {action!r}.", event_id=event_id, event_type=event_type)
    if event_id is None:
        raise ProtocolError("malformed_frame", "eventId is required (a string of 1 to 100 characters).")
    if not isinstance(payload, dict) or not event_type:
        raise ProtocolError("malformed_frame", "payload.eventType is required.", event_id=event_id)
    data = payload.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProtocolError(
            "malformed_frame", "payload.data must be an object.", event_id=event_id, event_type=event_type
        )
    return ClientFrame(action=action, event_id=event_id, event_type=event_type, data=data, payload=payload)


def _loads(text: str, raw: bytes) -> Any:
    """A frame's JSON (``raw`` is ``text`` in UTF-8) to values, by orjson: strict RFC 8259 (no
    NaN or Infinity, no number out of a double's range, no lone surrogate escape, nesting at
    most 1024 deep), each refused with ValueError. Integers are Python's, whatever their size:
    a frame that may hold one beyond 64 bits (a run of 19 digits, rare) is read again by json,
    which keeps it exact."""
    value = orjson.loads(raw)
    if jsontext.may_hold_long_integer(raw):
        value = json.loads(text)
    return value


def new_event_id() -> str:
    """``str(uuid.uuid4())``, a random RFC 4122 version 4 UUID as text, without building the
    ``UUID`` object: ``uuid4()`` and ``str()`` were three Python calls for every push."""
    value = int.from_bytes(os.urandom(16))
    value = (value & ~(0xF000 << 64) | 4 << 76) & ~(0xC000 << 48) | 0x8000 << 48  # version 4, RFC 4122 variant
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def cxone_timestamp(moment: Any = None, *, milliseconds: bool = False) -> str:
    """``2026-11-21T10:00:00Z`` (or ``…00.123Z``) of an aware datetime, or of the ISO text of
    one (``datetime.isoformat()``, as snapshots carry them); now when ``moment`` is empty."""
    if moment and isinstance(moment, str):
        # UTC text, "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00", is cut; any other is parsed.
        length = len(moment)
        if (length == 25 or length == 32) and moment.endswith("+00:00"):
            if not milliseconds:
                return moment[:19] + "Z"
            return moment[:19] + (moment[19:23] if length == 32 else ".000") + "Z"
        moment = datetime.datetime.fromisoformat(moment)
    moment = moment or timezone.now()
    text = moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds" if milliseconds else "seconds")
    return text.replace("+00:00", "Z")


def cxone_ack(event_id: str) -> dict[str, Any]:
    """The generic acknowledgement: resolves the request, dispatches nothing an app listens to."""
    return {"eventId": event_id}


def cxone_postback(event_id: str, event_type: str, data: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A response; ``top`` keys (e.g. ``status``) are merged into ``data`` by the SDK."""
    return {"eventId": event_id, **top, "postback": {"eventType": event_type, "data": data}}


def cxone_error(
    event_id: str | None, event_type: str, message: str, *, reason: str, code: str | None = None
) -> dict[str, Any]:
    """An error response. ``errorCode`` is the CXone code for the request type; ``reason`` is Parley's."""
    return {
        "eventId": event_id or new_event_id(),
        "error": {
            "errorCode": code or CXONE_ERROR_CODES.get(event_type, INCONSISTENT_DATA),
            "errorMessage": message,
            "transactionId": new_event_id(),
            "reason": reason,
        },
        "inputData": {"eventType": event_type} if event_type else {},
    }


def cxone_push(
    event_type: str,
    event_object: str,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    context: dict[str, Any] | None = None,
    created_at: Any = None,
) -> dict[str, Any]:
    """A server-initiated event (also usable as a response when ``event_id`` is the request's)."""
    frame: dict[str, Any] = {
        "eventId": event_id or new_event_id(),
        "eventObject": event_object,
        "eventType": event_type,
        "createdAt": cxone_timestamp(created_at, milliseconds=True),
        "data": data,
    }
    if context is not None:
        frame["context"] = context
    return frame


def cxone_event_in_s3(url: str, origin_event_type: str) -> dict[str, Any]:
    """Points the client at a large event to fetch over HTTP (seed 004, reference §2.5)."""
    return cxone_push(
        "EventInS3", "S3Object", {"s3Object": {"url": url}, "originEvent": {"eventType": origin_event_type}}
    )


def cxone_dumps(frame: dict[str, Any] | str) -> str:
    """The frame as compact JSON text, non-ASCII characters as they are
    (``json.dumps(frame, separators=(",", ":"), ensure_ascii=False)``, by orjson: ``engage.lib.jsontext``)."""
    return jsontext.dumps(frame)


def cxone_frame_type(frame: dict[str, Any]) -> str:
    """The event type a frame carries, for logs and for EventInS3's ``originEvent``."""
    if "eventType" in frame:
        return str(frame["eventType"])
    postback = frame.get("postback")
    if isinstance(postback, dict):
        return str(postback.get("eventType", ""))
    return ""
