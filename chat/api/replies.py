"""An agent's reply: the one write the REST endpoint and the console socket share.

``POST /api/v1/threads/<id>/messages/`` and the console socket's ``send`` frame
(docs/agent-protocol.md) both end here, so both check the same things: the
caller reads the thread (``inbox.thread_for_agent``), may reply to it unless it
is an internal note (``inbox.thread_check_reply``; both in one query:
``inbox.thread_for_reply``), and names attachments of the thread's channel that
no message holds yet. A ``client_id`` already used in the thread returns the
original message.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

from chat import inbox, selectors, services
from chat.api.serializers import AttachmentSerializer, MessageSerializer
from chat.console.rendering import rendered_message_data
from chat.models import Attachment, Message, Thread
from engage.errors import InvalidInput
from engage.lib import aiodb
from engage.models import Membership


@dataclasses.dataclass(frozen=True)
class Reply:
    text: str = ""
    content_type: str = "TEXT"
    content: dict[str, Any] | None = None
    client_id: str | None = None
    is_internal: bool = False
    attachment_ids: Sequence[Any] = ()


class _MessageFields(MessageSerializer):
    """MessageSerializer but its attachments, for messages just written (their attachments are known)."""

    class Meta(MessageSerializer.Meta):
        fields = [name for name in MessageSerializer.Meta.fields if name != "attachments"]


@functools.cache
def _renderers() -> tuple[_MessageFields, AttachmentSerializer]:
    """Built once: DRF builds a serializer's fields for every instance (about 0.4 ms for a
    message), while ``to_representation`` keeps no state, so one instance serves every thread."""
    return _MessageFields(), AttachmentSerializer()


def _written_data(message: Message, attachments: list[Attachment]) -> dict[str, Any]:
    """The REST representation of a message (``MessageSerializer``), its attachments given."""
    fields, attachment = _renderers()
    data = fields.to_representation(message)
    data["attachments"] = [attachment.to_representation(item) for item in attachments]
    return data


def attachments_unclaimed(*, agent: Membership, thread: Thread, ids: Sequence[Any]) -> list[Attachment]:
    """The attachments named, of the thread's channel and held by no message, or InvalidInput."""
    if not ids:
        return []
    found = list(
        Attachment.objects.filter(
            tenant_id=agent.tenant_id, channel_id=thread.channel_id, public_id__in=ids, message__isnull=True
        )
    )
    if len(found) != len(set(ids)):
        raise InvalidInput("An attachment is unknown or already used.", code="invalid_attachment")
    return found


def message_data(message: Message) -> dict[str, Any]:
    """The REST representation of a stored message (author and attachments read with it)."""
    stored = selectors.with_attachments([Message.objects.select_related("author_agent__user").get(pk=message.pk)])[0]
    return _written_data(stored, list(stored.attachments.all()))


def _message_fields(agent: Membership, reply: Reply) -> dict[str, Any]:
    return {
        "author_type": Message.Author.AGENT,
        "content_type": reply.content_type,
        "content": reply.content or {"text": reply.text},
        "client_id": reply.client_id,
        "agent": agent,
        "is_internal": reply.is_internal,
    }


def reply_send(
    *, agent: Membership, thread_id: int, reply: Reply, recheck_agent: bool = False
) -> tuple[dict[str, Any], bool]:
    """Writes the reply; returns its REST representation and whether it is new.

    ThreadNotFound for a thread the agent may not read (or of another tenant),
    PermissionDenied (``not_assigned``) for a reply they may not send. A new
    message is serialised from memory (the agent, its user and the claimed
    attachments are at hand); a repeated ``client_id`` reads the original back.
    ``recheck_agent``: ``agent`` was read earlier (the console socket's, at connect);
    the thread's query also checks it still holds (``inbox.MembershipChanged``).
    """
    thread = inbox.thread_for_reply(
        agent=agent, thread_id=thread_id, note=reply.is_internal, recheck_agent=recheck_agent
    )
    attachments = attachments_unclaimed(agent=agent, thread=thread, ids=reply.attachment_ids)
    result = services.message_create(thread=thread, attachments=attachments, **_message_fields(agent, reply))
    if not result.created:
        return message_data(result.message), False
    return _written_data(result.message, attachments), True


async def areply_send(
    *, agent: Membership, thread_id: int, reply: Reply, recheck_agent: bool = False, utc: bool | None = None
) -> tuple[dict[str, Any], bool] | None:
    """``reply_send`` from the event loop, for a new reply without attachments; None otherwise.

    The same checks and write without a thread switch, in one statement
    (``services.areply_create``); when it writes nothing, the checks of
    ``inbox.athread_for_reply`` say why, and ``services.amessage_create`` writes.
    Raises what ``reply_send`` raises. The message is rendered once for this answer and the
    console's push of it (``rendered_message_data``; ``utc`` as it takes, asked when None). None when the write has to
    take the long way (attachments, a repeated client id, a contact to open, not
    PostgreSQL, a failed connection): the caller runs ``reply_send`` in a worker, whose
    client id makes it safe whatever the loop's attempt did.
    """
    if reply.attachment_ids or not aiodb.available():
        return None
    fields = _message_fields(agent, reply)
    verdict = functools.partial(
        inbox.athread_for_reply, agent=agent, thread_id=thread_id, note=reply.is_internal, recheck_agent=recheck_agent
    )
    try:  # checked and written by one statement
        result = await services.areply_create(
            agent=agent,
            thread_id=inbox.reply_thread_pk(thread_id),
            content_type=fields["content_type"],
            content=fields["content"],
            client_id=fields["client_id"],
            is_internal=fields["is_internal"],
            recheck_agent=recheck_agent,
        )
    except InvalidInput:
        # As in reply_send, the thread's verdict comes before the content's (None: its
        # connection failed, and reply_send in a worker gives both).
        if await verdict() is None:
            return None
        raise
    if result is None:  # nothing written: the verdict says why, or the write takes the long way
        thread = await verdict()
        if thread is None:
            return None
        result = await services.amessage_create(thread=thread, **fields)
    if result is None:
        return None
    # MessageSerializer's, without a query; the console's push of this message finds it rendered
    return rendered_message_data(result.snapshot, agent.tenant_id, utc=utc), True
