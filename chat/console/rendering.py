"""The console's message data (``MessageSerializer``'s shape) and its frames' JSON text.

``message_data_from_snapshot`` renders a MessageCreated event's snapshot
(chat/snapshots.py) straight from its plain values: no model instance, no DRF
field machinery. It must give exactly what ``MessageSerializer`` gives for the
rebuilt message (``message_from_snapshot``); tests/chat/test_snapshot_rendering.py
compares them for every kind of message. A field added to the serializer is added
here too.

``console_dumps`` is the console socket's frame serialization
(``json.dumps(frame, default=str, separators=(",", ":"))``) done by orjson.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from chat.snapshots import RenderedCache, membership_display_name
from engage.lib import jsontext
from engage.lib.storage import signed_url

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal"})
_DATETIME = serializers.DateTimeField()


def datetimes_in_utc() -> bool:
    """Whether DRF writes datetimes as ISO 8601 in UTC right now (the default): then a
    snapshot's ``isoformat()`` text in UTC is already its rendering, but for the ``Z``.

    The active time zone is an asgiref ``Local``: asking for it was 3 % of a message's CPU
    under load (docs/performance.md, "Ninth session"). A console socket asks once, when it
    opens (nothing activates another zone in its context), and passes the answer on."""
    if str(api_settings.DATETIME_FORMAT).lower() != ISO_8601:
        return False
    zone = timezone.get_current_timezone()
    return zone is datetime.UTC or getattr(zone, "key", None) in _UTC_NAMES


def _datetime(text: str | None, utc: bool) -> str | None:
    """``DateTimeField.to_representation`` of the datetime a snapshot carries as ISO text."""
    if not text:
        return None
    if utc and text.endswith("+00:00"):
        return text[:-6] + "Z"
    return _DATETIME.to_representation(datetime.datetime.fromisoformat(text))


def _agent_ref(agent: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if agent is None:
        return None
    return {"id": int(agent["id"]), "name": str(membership_display_name(agent))}


def _attachment(attachment: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(attachment["public_id"]),
        "file_name": str(attachment["file_name"]),
        "mime_type": str(attachment["mime_type"]),
        "size": int(attachment["size"]),
        "url": signed_url(str(attachment["file"])),
    }


def message_data_from_snapshot(snapshot: Mapping[str, Any], *, utc: bool | None = None) -> dict[str, Any]:
    """``MessageSerializer().to_representation`` of the snapshot's message; ``utc`` is
    ``datetimes_in_utc()``, asked when not given."""
    message = snapshot["message"]
    if utc is None:
        utc = datetimes_in_utc()
    return {
        "id": str(message["public_id"]),
        "thread_id": message["thread_id"],
        "sequence": int(message["sequence"]),
        "client_id": str(message["client_id"]),
        "direction": str(message["direction"]),
        "author_type": str(message["author_type"]),
        "author_agent": _agent_ref(snapshot["author"]),
        "content_type": str(message["content_type"]),
        "content": message["content"],
        "is_internal": bool(message["is_internal"]),
        "created_at": _datetime(message["created_at"], utc),
        "delivered_at": _datetime(message["delivered_at"], utc),
        "seen_at": _datetime(message["seen_at"], utc),
        "attachments": [_attachment(attachment) for attachment in snapshot["attachments"]],
    }


# One rendering per message and process, whatever the number of console sockets, the console's
# answer to its own reply included: entries live half a second (``RenderedCache``).
RENDERED = RenderedCache(size=1024, seconds=0.5)


def rendered_message_data(snapshot: Mapping[str, Any], tenant_id: int, *, utc: bool | None) -> dict[str, Any]:
    """``message_data_from_snapshot``, rendered once per message and process (``RENDERED``); the
    caller has checked that the snapshot is one of ``tenant_id``'s (``usable_snapshot``)."""
    key = (tenant_id, snapshot["message"]["id"])
    data = RENDERED.get(key)
    if data is None:
        data = message_data_from_snapshot(snapshot, utc=utc)
        RENDERED.put(key, data)
    return data


def console_dumps(frame: Mapping[str, Any]) -> str:
    """``json.dumps(frame, default=str, separators=(",", ":"))``'s JSON values, by orjson
    (``engage.lib.jsontext``; non-ASCII characters are written as they are, not as ``\\u`` escapes)."""
    return jsontext.dumps(frame, default=str)
