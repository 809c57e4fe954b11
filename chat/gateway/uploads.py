"""Visitor uploads: the ``fileUrl`` a channel hands out, and reading it back in SendMessage.

The SDK uploads anonymously and then names the file in a message by the URL it
got back, so the URL is the claim: it carries the attachment's public id signed
for that channel, valid ``ATTACHMENT_CLAIM_SECONDS``.
"""

from __future__ import annotations

import re

from chat.models import Attachment
from engage.lib.signing import sign_value, unsign_value
from engage.models import Channel

ATTACHMENT_PURPOSE = "attachment-claim"
ATTACHMENT_CLAIM_SECONDS = 24 * 3600
_FILE_URL = re.compile(r"/attachment/(?P<token>[A-Za-z0-9_\-:]+)/?$")


def upload_token(*, channel: Channel, attachment: Attachment) -> str:
    return sign_value(str(attachment.public_id), purpose=f"{ATTACHMENT_PURPOSE}.{channel.pk}")


def attachment_public_id(*, channel: Channel, file_url: object) -> str | None:
    """The attachment public id named by a ``fileUrl`` this channel issued (and that is still fresh)."""
    if not isinstance(file_url, str):
        return None
    match = _FILE_URL.search(file_url.split("?", 1)[0])
    if match is None:
        return None
    return unsign_value(match["token"], purpose=f"{ATTACHMENT_PURPOSE}.{channel.pk}", max_age=ATTACHMENT_CLAIM_SECONDS)
