"""Requests that write messages: SendMessage and its variants, seen marks, typing."""

from __future__ import annotations

from typing import Any

from chat import selectors, services
from chat.gateway import uploads
from chat.gateway.handlers.common import (
    Frames,
    customer_of,
    fields_of,
    text_of,
)
from chat.gateway.protocol import (
    ClientFrame,
    cxone_ack,
    cxone_postback,
)
from chat.gateway.state import ConnectionState
from chat.gateway.tokens import token_read
from chat.models import Customer, Message
from engage.custom_fields import custom_fields_validate
from engage.errors import InvalidInput, PermissionDenied
from engage.models import Channel, CustomFieldDefinition


def _check_third_party_token(state: ConnectionState, frame: ClientFrame) -> None:
    if state.channel.auth_mode != Channel.AuthMode.THIRD_PARTY:
        return
    access = frame.data.get("accessToken")
    claims = token_read(
        kind="tp-access", token=access.get("token") if isinstance(access, dict) else None, channel_pk=state.channel.pk
    )
    if claims is None or claims.customer_pk != customer_of(state).pk:
        raise PermissionDenied("The third-party access token is missing, invalid or expired.")


def _content(frame: ClientFrame) -> dict[str, Any]:
    content = frame.data.get("messageContent")
    if not isinstance(content, dict):
        raise InvalidInput("data.messageContent is required.")
    if content.get("type", "TEXT") not in {"TEXT", "POSTBACK"}:
        raise InvalidInput("Visitors send TEXT messages (with an optional postback).")
    payload: dict[str, Any] = content["payload"] if isinstance(content.get("payload"), dict) else {}
    text = payload.get("text", "")
    postback = content.get("postback", payload.get("postback"))
    if not isinstance(text, str):
        raise InvalidInput("messageContent.payload.text is a string.")
    if postback is not None and not isinstance(postback, str):
        raise InvalidInput("postback is a string.")
    cleaned = {"text": text, "postback": postback or None}
    return {"text": text, "payload": {"text": text}, **cleaned}


def _attachments(state: ConnectionState, frame: ClientFrame) -> list[Any]:
    items = frame.data.get("attachments") or []
    if not isinstance(items, list) or len(items) > 10:
        raise InvalidInput("attachments is a list of at most 10 {url, friendlyName}.")
    if not items:
        return []
    public_ids = []
    for item in items:
        public_id = uploads.attachment_public_id(
            channel=state.channel, file_url=item.get("url") if isinstance(item, dict) else None
        )
        if public_id is None:
            raise InvalidInput("An attachment URL was not issued by this channel, or has expired.")
        public_ids.append(public_id)
    found = selectors.attachments_unclaimed(channel=state.channel, public_ids=public_ids)
    if len(found) != len(set(public_ids)):
        raise InvalidInput("An attachment is unknown or already used.")
    return found


_BROWSER_KEYS = ("browser", "browserVersion", "os", "osVersion", "language", "location", "deviceType")


def _browser(fingerprint: Any) -> dict[str, str]:
    """What the SDK says about the browser, for the agent's visitor context (never trusted for anything)."""
    if not isinstance(fingerprint, dict):
        return {}
    return {key: value[:100] for key in _BROWSER_KEYS if isinstance(value := fingerprint.get(key), str) and value}


def _names_to_adopt(customer: Customer, frame: ClientFrame) -> dict[str, str]:
    """The visitor's names from the SDK (``customerName``, ``setName``) that differ from what Parley holds;
    none for a customer whose identity is signed."""
    identity = frame.payload.get("consumerIdentity") or frame.payload.get("customerIdentity")  # web, mobile
    if customer.is_verified or not isinstance(identity, dict):
        return {}
    names = {
        field: value[:120]
        for field, key in (("first_name", "firstName"), ("last_name", "lastName"))
        if isinstance(value := identity.get(key), str) and value.strip()
    }
    return names if any(getattr(customer, field) != value for field, value in names.items()) else {}


def _adopt_names(state: ConnectionState, frame: ClientFrame) -> None:
    """Takes the visitor's names from the SDK unless a signed identity set them."""
    customer = customer_of(state)
    names = _names_to_adopt(customer, frame)
    if names:
        state.customer = services.customer_update(customer=customer, values=names)


def _client_id(frame: ClientFrame) -> str | None:
    client_id = frame.data.get("idOnExternalPlatform")
    if client_id is not None and not isinstance(client_id, str):
        raise InvalidInput("data.idOnExternalPlatform is a string.")
    return client_id


def send_message(state: ConnectionState, frame: ClientFrame) -> Frames:
    customer = customer_of(state)
    _check_third_party_token(state, frame)
    public_id = frame.thread_public_id
    if public_id is None:
        raise InvalidInput("data.thread.idOnExternalPlatform is required.")
    client_id = _client_id(frame)
    content = _content(frame)
    attachments = _attachments(state, frame)
    customer_fields = fields_of(frame.data.get("consumer"))
    contact_fields = fields_of(frame.data.get("consumerContact"))
    if customer_fields:
        custom_fields_validate(
            tenant=state.channel.tenant, scope=CustomFieldDefinition.Scope.CUSTOMER, values=customer_fields
        )
    if contact_fields:
        custom_fields_validate(
            tenant=state.channel.tenant, scope=CustomFieldDefinition.Scope.CONTACT, values=contact_fields
        )
    thread = state.threads.get(public_id)
    if thread is None:
        # A thread the visitor starts says so to agents and rules (seed 003, "identity_initiated_thread").
        context: dict[str, Any] = {"identity_initiated_thread": True}
        browser = _browser(frame.data.get("browserFingerprint"))
        if browser:
            context["browser"] = browser
        thread, _ = services.thread_get_or_create(
            channel=state.channel, customer=customer, public_id=public_id, context=context
        )
        state.remember(thread)
    result = services.message_create(
        thread=thread,
        author_type=Message.Author.CUSTOMER,
        content=content,
        client_id=client_id,
        attachments=attachments,
    )
    if result.created:
        _adopt_names(state, frame)
    if result.created and customer_fields:
        state.customer = services.customer_update(customer=customer_of(state), custom_fields=customer_fields)
    if result.created and contact_fields and result.message.contact is not None:
        services.contact_update_custom_fields(contact=result.message.contact, values=contact_fields)
    return [cxone_ack(frame.event_id)]


async def send_message_in_loop(state: ConnectionState, frame: ClientFrame) -> Frames | None:
    """SendMessage's common case in the event loop, without a thread switch: a text or postback to a
    thread this socket already knows, with nothing else to write (no attachment, custom field or new
    name). ``services.amessage_create`` writes it in one statement or writes nothing; None then hands
    the frame to ``send_message`` in a worker, which handles every case. Invalid input raises as there.
    """
    customer = state.customer
    if customer is None or state.channel.auth_mode == Channel.AuthMode.THIRD_PARTY:
        return None  # checking the third party's token may query
    if customer is not state.complete_customer:  # asked once per customer instance: a dozen fields each time
        if customer.get_deferred_fields():
            return None  # reading the customer may query
        state.complete_customer = customer
    thread = state.threads.get(frame.thread_public_id or "")
    if thread is None or frame.data.get("attachments"):
        return None
    if fields_of(frame.data.get("consumer")) or fields_of(frame.data.get("consumerContact")):
        return None
    client_id = _client_id(frame)
    content = _content(frame)
    if _names_to_adopt(customer, frame):
        return None
    result = await services.amessage_create(
        thread=thread, author_type=Message.Author.CUSTOMER, content=content, client_id=client_id
    )
    return None if result is None else [cxone_ack(frame.event_id)]


def send_outbound(state: ConnectionState, frame: ClientFrame) -> Frames:
    raise PermissionDenied("Outbound messages come from agents, not from the visitor's page.")


def send_offline_message(state: ConnectionState, frame: ClientFrame) -> Frames:
    content = _content(frame)
    author = frame.data.get("authorCustomerIdentity")
    author = author if isinstance(author, dict) else {}
    email = author.get("idOnExternalPlatform")
    services.offline_message_create(
        channel=state.channel,
        customer=customer_of(state),
        text=content["text"],
        email=email if isinstance(email, str) else "",
        first_name=text_of(author.get("firstName"), 120),
        last_name=text_of(author.get("lastName"), 120),
    )
    return [cxone_postback(frame.event_id, "OfflineMessageSent", {})]


def ack_only(state: ConnectionState, frame: ClientFrame) -> Frames:
    customer_of(state)
    return [cxone_ack(frame.event_id)]
