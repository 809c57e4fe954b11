"""The CXone object shapes Parley sends: Message, Contact (case), ThreadView, User, Attachment.

Fields the SDK or its sample app read are filled from Parley's rows; the rest
of the platform's field set gets neutral values (``[]``, ``None``, ``False``,
``""``) so that typed clients (the mobile SDKs) decode them. Reference §7.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from chat.gateway.protocol.frames import cxone_timestamp
from chat.models import Attachment, Contact, Customer, Message, Thread
from chat.snapshots import membership_display_name
from engage.lib.storage import signed_url
from engage.models import Membership


def _iso(moment: Any) -> str | None:
    return cxone_timestamp(moment) if moment else None


def cxone_custom_fields(values: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"ident": ident, "value": value} for ident, value in sorted((values or {}).items())]


def cxone_user(agent: Membership | None) -> dict[str, Any] | None:
    """An agent as visitors see them: names and nickname, never the e-mail or login."""
    if agent is None:
        return None
    user = agent.user
    return {
        "id": agent.pk,
        "incontactId": "",
        "agentId": str(agent.pk),
        "emailAddress": "",
        "loginUsername": "",
        "firstName": user.first_name or agent.display_name,
        "surname": user.last_name,
        "nickname": agent.nickname or user.first_name or agent.display_name,
        "isBotUser": False,
        "isSurveyUser": False,
        "imageUrl": "",
        "publicImageUrl": "",
    }


def cxone_bot_user(name: str) -> dict[str, Any]:
    return {**(cxone_user_placeholder()), "firstName": name, "nickname": name, "isBotUser": True}


def cxone_user_placeholder() -> dict[str, Any]:
    return {
        "id": 0,
        "incontactId": "",
        "agentId": "",
        "emailAddress": "",
        "loginUsername": "",
        "firstName": "",
        "surname": "",
        "nickname": "",
        "isBotUser": False,
        "isSurveyUser": False,
        "imageUrl": "",
        "publicImageUrl": "",
    }


def cxone_end_user(customer: Customer) -> dict[str, Any]:
    return _end_user(
        customer.pk, customer.id_on_external_platform, customer.first_name, customer.last_name, customer.image
    )


def _end_user(pk: Any, id_on_external_platform: str, first_name: str, last_name: str, image: str) -> dict[str, Any]:
    """The customer as the SDK shows an end user, from a model or a snapshot."""
    return {
        "id": str(pk),
        "idOnExternalPlatform": id_on_external_platform,
        "firstName": first_name,
        "lastName": last_name,
        "fullName": f"{first_name} {last_name}".strip(),  # Customer.full_name
        "nickname": "",
        "image": image,
    }


def cxone_customer_identity(customer: Customer) -> dict[str, Any]:
    identity: dict[str, Any] = {"idOnExternalPlatform": customer.id_on_external_platform}
    if customer.first_name:
        identity["firstName"] = customer.first_name
    if customer.last_name:
        identity["lastName"] = customer.last_name
    if customer.image:
        identity["image"] = customer.image
    identity["customFields"] = cxone_custom_fields(customer.custom_fields)
    return identity


def cxone_attachment(attachment: Attachment) -> dict[str, Any]:
    return _attachment(attachment.public_id, attachment.file_name, attachment.file.name, attachment.mime_type)


def _attachment(public_id: Any, file_name: str, file: Any, mime_type: str) -> dict[str, Any]:
    """A file of a message, from a model or a snapshot: its link is signed and short-lived."""
    url = signed_url(str(file))
    return {
        "id": str(public_id),
        "friendlyName": file_name,
        "fileName": file_name,
        "url": url,
        "securedPermanentUrl": url,
        "previewUrl": url,
        "mimeType": mime_type,
        "isInline": mime_type.startswith("image/"),
        "canBeStored": True,
    }


def cxone_thread_view(thread: Thread, channel_public_id: str) -> dict[str, Any]:
    return {
        "id": str(thread.pk),
        "idOnExternalPlatform": thread.public_id,
        "threadName": thread.name,
        "channelId": channel_public_id,
        "canAddMoreMessages": not (thread.is_archived or thread.is_locked),
    }


def cxone_contact(contact: Contact, thread: Thread) -> dict[str, Any]:
    agent = contact.assigned_agent
    user = cxone_user(agent)
    return {
        "id": str(contact.pk),
        "threadIdOnExternalPlatform": thread.public_id,
        "threadId": str(thread.pk),
        "status": contact.status,
        "createdAt": _iso(contact.created_at),
        "statusUpdatedAt": _iso(contact.status_updated_at),
        "customFields": cxone_custom_fields(contact.custom_fields),
        "inboxAssignee": agent.pk if agent else None,
        "inboxAssigneeUser": user,
        "ownerAssignee": agent.pk if agent else None,
        "ownerAssigneeUser": user,
        "inboxPreAssigneeUser": None,
        "routingQueueId": str(contact.queue_id) if contact.queue_id else None,
        "routingQueuePriority": 0,
        "direction": "inbound",
        "recipients": [],
        "endUserRecipients": [],
        "statistics": {"inboxAssigneeResponseTime": None},
        "routableType": "ROUTABLE",
        "interactionId": str(contact.pk),
        "contactId": str(contact.pk),
        "detailUrl": "",
    }


def _message_content(message: Message) -> dict[str, Any]:
    return _content_body(message.content_type, cast(dict[str, Any], message.content))


def _author_user(message: Message, bot_name: str) -> dict[str, Any] | None:
    if message.author_type == Message.Author.AGENT:
        return cxone_user(message.author_agent)
    if message.author_type == Message.Author.BOT:
        return cxone_bot_user(bot_name)
    return None


def _message_features() -> dict[str, Any]:
    """The message fields of features Parley does not offer (reactions, forwards, tags…), as the SDK expects them."""
    return {
        "recipients": [],
        "tags": [],
        "sentiment": "neutral",
        "title": "",
        "url": "",
        "replyToMessage": None,
        "forward": None,
        "reactionStatistics": None,
        "hasAdditionalMessageContent": False,
        "authorNameRemoved": None,
        "contentRemoved": None,
        "deletedOnExternalPlatform": False,
        "isHiddenOnExternalPlatform": False,
        "isReplyAllowed": True,
        "replyChannel": None,
    }


def cxone_message(
    message: Message,
    *,
    thread: Thread,
    customer: Customer,
    bot_name: str = "",
    attachments: Iterable[Attachment] | None = None,
) -> dict[str, Any]:
    """A message as the visitor sees it. Never called for internal notes."""
    inbound = message.direction == Message.Direction.INBOUND
    seen = _iso(message.seen_at)
    author_user = _author_user(message, bot_name)
    files = list(attachments if attachments is not None else message.attachments.all())
    contact_number = str(message.contact_id) if message.contact_id else None
    return {
        "id": str(message.public_id),
        "idOnExternalPlatform": message.client_id,
        "threadIdOnExternalPlatform": thread.public_id,
        "threadId": str(thread.pk),
        "postId": str(thread.pk),
        "contactNumber": contact_number,
        "sequence": message.sequence,
        "messageContent": _message_content(message),
        "direction": message.direction,
        "createdAt": cxone_timestamp(message.created_at),
        "createdAtWithMilliseconds": cxone_timestamp(message.created_at, milliseconds=True),
        "attachments": [cxone_attachment(attachment) for attachment in files],
        "authorUser": author_user,
        "user": author_user,
        "authorEndUserIdentity": cxone_end_user(customer) if inbound else None,
        "userStatistics": {"seenAt": seen if inbound else None, "readAt": seen if inbound else None},
        "customerStatistics": {"seenAt": None if inbound else seen},
        "delivered": [{"deliveredAt": _iso(message.delivered_at)}] if message.delivered_at else [],
        "seen": [{"seenAt": seen}] if seen else [],
        "isRead": message.seen_at is not None,
        "readAt": seen,
        **_message_features(),
    }


# --- From a message's snapshot (chat/snapshots.py) ------------------------------------------
#
# The same objects as above, built from the plain values a MessageCreated event carries,
# without model instances (the visitor push of every message runs this). Each function
# must give exactly what its model-based twin gives for the rebuilt instances
# (``message_from_snapshot``): tests/chat/test_snapshot_rendering.py compares them for
# every kind of message. Change both together.


def cxone_user_from_snapshot(agent: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``cxone_user`` of a snapshot's membership (``author`` or ``assignee``)."""
    if agent is None:
        return None
    user = agent["user"]
    first_name = user["first_name"]
    nickname = agent["nickname"] or first_name or membership_display_name(agent)
    return {
        "id": agent["id"],
        "incontactId": "",
        "agentId": str(agent["id"]),
        "emailAddress": "",
        "loginUsername": "",
        "firstName": first_name or nickname,
        "surname": user["last_name"],
        "nickname": nickname,
        "isBotUser": False,
        "isSurveyUser": False,
        "imageUrl": "",
        "publicImageUrl": "",
    }


def cxone_thread_view_from_snapshot(thread: Mapping[str, Any], channel_public_id: str) -> dict[str, Any]:
    return {
        "id": str(thread["id"]),
        "idOnExternalPlatform": thread["public_id"],
        "threadName": thread["name"],
        "channelId": channel_public_id,
        "canAddMoreMessages": not (thread["is_archived"] or thread["is_locked"]),
    }


def _iso_text(moment: str | None) -> str | None:
    return cxone_timestamp(moment) if moment else None


def cxone_contact_from_snapshot(snapshot: Mapping[str, Any]) -> dict[str, Any] | None:
    """``cxone_contact`` of the snapshot's contact; None when the message has none."""
    contact = snapshot["contact"]
    if contact is None:
        return None
    thread = snapshot["thread"]
    agent = snapshot["assignee"]
    user = cxone_user_from_snapshot(agent)
    agent_pk = agent["id"] if agent else None
    contact_pk = str(contact["id"])
    return {
        "id": contact_pk,
        "threadIdOnExternalPlatform": thread["public_id"],
        "threadId": str(thread["id"]),
        "status": contact["status"],
        "createdAt": _iso_text(contact["created_at"]),
        "statusUpdatedAt": _iso_text(contact["status_updated_at"]),
        "customFields": cxone_custom_fields(contact["custom_fields"]),
        "inboxAssignee": agent_pk,
        "inboxAssigneeUser": user,
        "ownerAssignee": agent_pk,
        "ownerAssigneeUser": user,
        "inboxPreAssigneeUser": None,
        "routingQueueId": str(contact["queue_id"]) if contact["queue_id"] else None,
        "routingQueuePriority": 0,
        "direction": "inbound",
        "recipients": [],
        "endUserRecipients": [],
        "statistics": {"inboxAssigneeResponseTime": None},
        "routableType": "ROUTABLE",
        "interactionId": contact_pk,
        "contactId": contact_pk,
        "detailUrl": "",
    }


def _content_body(content_type: str, content: Mapping[str, Any] | None) -> dict[str, Any]:
    """``_message_content`` of a content type and content."""
    content = content or {}
    payload = dict(content.get("payload") or {})
    postback = content.get("postback")
    if content_type in {"TEXT", "POSTBACK"}:
        payload["text"] = content.get("text", "")
        if postback:
            payload["postback"] = postback
    body: dict[str, Any] = {
        "type": content_type,
        "payload": payload,
        "fallbackText": content.get("fallbackText") or content.get("text", ""),
        "isAutoTranslated": False,
        "parameters": [],
    }
    if postback:
        body["postback"] = postback
    return body


def _attachment_from_snapshot(attachment: Mapping[str, Any]) -> dict[str, Any]:
    return _attachment(attachment["public_id"], attachment["file_name"], attachment["file"], attachment["mime_type"])


def cxone_message_from_snapshot(snapshot: Mapping[str, Any], *, bot_name: str = "") -> dict[str, Any]:
    """``cxone_message`` of the snapshot's message, thread, customer, author and attachments."""
    message = snapshot["message"]
    thread = snapshot["thread"]
    inbound = message["direction"] == Message.Direction.INBOUND
    seen_at = message["seen_at"]
    seen = cxone_timestamp(seen_at) if seen_at else None
    author_type = message["author_type"]
    if author_type == Message.Author.AGENT:
        author_user = cxone_user_from_snapshot(snapshot["author"])
    elif author_type == Message.Author.BOT:
        author_user = cxone_bot_user(bot_name)
    else:
        author_user = None
    end_user = None
    if inbound:
        customer = snapshot["customer"]
        end_user = _end_user(
            customer["id"],
            customer["id_on_external_platform"],
            customer["first_name"],
            customer["last_name"],
            customer["image"],
        )
    delivered_at = message["delivered_at"]
    thread_pk = str(thread["id"])
    created_at = message["created_at"]
    return {
        "id": str(message["public_id"]),
        "idOnExternalPlatform": message["client_id"],
        "threadIdOnExternalPlatform": thread["public_id"],
        "threadId": thread_pk,
        "postId": thread_pk,
        "contactNumber": str(message["contact_id"]) if message["contact_id"] else None,
        "sequence": message["sequence"],
        "messageContent": _content_body(message["content_type"], message["content"]),
        "direction": message["direction"],
        "createdAt": cxone_timestamp(created_at),
        "createdAtWithMilliseconds": cxone_timestamp(created_at, milliseconds=True),
        "attachments": [_attachment_from_snapshot(attachment) for attachment in snapshot["attachments"]],
        "authorUser": author_user,
        "user": author_user,
        "authorEndUserIdentity": end_user,
        "userStatistics": {"seenAt": seen if inbound else None, "readAt": seen if inbound else None},
        "customerStatistics": {"seenAt": None if inbound else seen},
        "delivered": [{"deliveredAt": cxone_timestamp(delivered_at)}] if delivered_at else [],
        "seen": [{"seenAt": seen}] if seen else [],
        "isRead": seen_at is not None,
        "readAt": seen,
        **_message_features(),
    }
