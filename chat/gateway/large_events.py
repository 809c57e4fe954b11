"""Large events delivered as a URL (seed 004, reference §2.5).

A server frame above ``MAX_OUTBOUND_FRAME_BYTES`` is written as a private JSON
object to the default storage (django-storages on S3 in production) and the
socket gets an ``EventInS3`` frame pointing at
``/chat/1.0/event/<signed token>``. The SDK fetches it with a plain GET and
handles the body exactly as if it had come over the socket. The link expires
after ``SIGNED_URL_TTL`` seconds; ``large_events_sweep`` deletes old objects.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from chat.gateway.protocol import (
    MAX_OUTBOUND_FRAME_BYTES,
    cxone_dumps,
    cxone_event_in_s3,
    cxone_frame_type,
)
from engage.lib.signing import sign_value, unsign_value

PURPOSE = "large-event"
PREFIX = "large-events"


def large_event_store(text: str, *, base_url: str) -> str:
    """Stores a serialised frame and returns the absolute URL the client fetches it from."""
    name = f"{PREFIX}/{timezone.now():%Y%m%d%H}/{uuid.uuid4().hex}.json"
    stored = default_storage.save(name, ContentFile(text.encode()))
    token = sign_value(stored, purpose=PURPOSE)
    return f"{base_url.rstrip('/')}{reverse('gateway-large-event', kwargs={'token': token})}"


def frame_text(frame: dict[str, Any], *, base_url: str) -> str:
    """The text a socket sends for a server frame: the frame, or past the limit an ``EventInS3``
    frame with the URL of the frame stored (``large_event_store``)."""
    text = cxone_dumps(frame)
    if len(text) > MAX_OUTBOUND_FRAME_BYTES // 4 and len(text.encode()) > MAX_OUTBOUND_FRAME_BYTES:
        url = large_event_store(text, base_url=base_url)
        text = cxone_dumps(cxone_event_in_s3(url, cxone_frame_type(frame)))
    return text


def large_event_read(token: str) -> bytes | None:
    """The stored frame behind a genuine, unexpired token, else None."""
    name = unsign_value(token, purpose=PURPOSE, max_age=settings.SIGNED_URL_TTL)
    if name is None or not name.startswith(f"{PREFIX}/") or not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as stored:
        return stored.read()


def large_events_sweep(*, older_than: datetime.timedelta | None = None) -> int:
    """Deletes stored large events whose links have expired; returns how many. Safe to run twice."""
    cutoff = timezone.now() - (older_than or datetime.timedelta(seconds=settings.SIGNED_URL_TTL + 3600))
    removed = 0
    try:
        folders, _ = default_storage.listdir(PREFIX)
    except (FileNotFoundError, NotImplementedError):
        return 0
    for folder in folders:
        try:
            hour = datetime.datetime.strptime(folder, "%Y%m%d%H").replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
        if hour + datetime.timedelta(hours=1) > cutoff:
            continue
        for file_name in default_storage.listdir(f"{PREFIX}/{folder}")[1]:
            default_storage.delete(f"{PREFIX}/{folder}/{file_name}")
            removed += 1
    return removed
