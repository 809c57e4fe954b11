"""Server-side checks of uploaded files against the channel's restrictions."""

from __future__ import annotations

import fnmatch
import mimetypes
import re
import unicodedata

from chat.errors import InvalidContent
from engage.models import Channel

# Types a browser could execute when opened; never accepted, whatever the channel says.
ACTIVE_TYPES = {"text/html", "application/xhtml+xml", "image/svg+xml", "application/javascript", "text/javascript"}


class AttachmentRefused(InvalidContent):
    """The file is not allowed on this channel."""

    code = "attachment_refused"

    def __init__(self, message: str, *, restrictions: dict) -> None:
        super().__init__(message)
        self.restrictions = restrictions


def file_restrictions(channel: Channel) -> dict:
    """The wire form of the channel's limits (CXone ``fileRestrictions``)."""
    return {
        "allowedFileSize": str(channel.max_file_size_mb),
        "allowedFileTypes": list(channel.allowed_file_types),
        "isAttachmentsEnabled": channel.attachments_enabled,
    }


def safe_file_name(file_name: str) -> str:
    name = unicodedata.normalize("NFKC", str(file_name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w.\- ]+", "_", name).strip(" .")[:150]
    return name or "file"


def attachment_check(*, channel: Channel, file_name: str, mime_type: str, data: bytes) -> tuple[str, str]:
    """Returns the safe file name and MIME type, or raises AttachmentRefused with the limits."""
    restrictions = file_restrictions(channel)
    name = safe_file_name(file_name)
    guessed = mimetypes.guess_type(name)[0]
    declared = (mime_type or "").split(";")[0].strip().lower()
    kind = declared or guessed or "application/octet-stream"
    if not channel.attachments_enabled:
        raise AttachmentRefused("Attachments are disabled on this channel.", restrictions=restrictions)
    if len(data) > channel.max_file_size_mb * 1024 * 1024:
        raise AttachmentRefused(f"The file is larger than {channel.max_file_size_mb} MB.", restrictions=restrictions)
    if not data:
        raise AttachmentRefused("The file is empty.", restrictions=restrictions)
    patterns = [str(item.get("mimeType", "")).lower() for item in channel.allowed_file_types]
    candidates = {kind} | ({guessed} if guessed else set())
    if candidates & ACTIVE_TYPES or not all(
        any(fnmatch.fnmatch(candidate, pattern) for pattern in patterns) for candidate in candidates
    ):
        raise AttachmentRefused(f"Files of type {kind} are not allowed here.", restrictions=restrictions)
    return name, kind
