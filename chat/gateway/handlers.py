"""One function per client event type: decode the request, call a service or selector, build the answer.

Each handler runs in a worker thread (it touches the database) and returns the
frames to send to the requesting socket, in order. Pushes to every socket of
the customer come separately, through the realtime groups, after commit.
Domain errors become error frames in the consumer. See docs/visitor-protocol.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings

from chat import realtime, selectors, services
from chat.errors import ThreadNotFound
from chat.gateway import views
from chat.gateway.identity import identity_verify
from chat.gateway.protocol import (
    ClientFrame,
    cxone_ack,
    cxone_contact,
    cxone_custom_fields,
    cxone_customer_identity,
    cxone_message,
    cxone_postback,
    cxone_thread_view,
    cxone_user,
)
from chat.gateway.sessions import customer_anonymous, customer_verified
from chat.gateway.state import ConnectionState
from chat.gateway.tokens import token_issue, token_read
from chat.models import Contact, Customer, Message, Thread
from engage.custom_fields import custom_fields_validate
from engage.errors import Conflict, InvalidInput, PermissionDenied
from engage.models import Channel, CustomFieldDefinition

Frames = list[dict[str, Any]]
Handler = Callable[[ConnectionState, ClientFrame], Frames]

MAX_THREADS_LISTED = 100
MAX_THREADS_JOINED = 20
MAX_PAGE_VIEWS = 20


class NotAuthorized(PermissionDenied):
    """Authorize the customer first (AuthorizeCustomer or ReconnectConsumer)."""

    code = "not_authorized"


class NotOffered(Conflict):
    """This channel does not offer that."""

    code = "not_offered"


def page_size() -> int:
    return int(getattr(settings, "PARLEY_GATEWAY_PAGE_SIZE", 20))


# --- Helpers ------------------------------------------------------------------


def _customer(state: ConnectionState) -> Customer:
    if state.customer is None:
        raise NotAuthorized()
    return state.customer


def _thread(state: ConnectionState, frame: ClientFrame, *, required: bool = True) -> Thread | None:
    public_id = frame.thread_public_id
    if public_id is None:
        if required:
            raise InvalidInput("data.thread.idOnExternalPlatform is required.")
        return None
    cached = state.threads.get(public_id)
    if cached is not None:
        return cached
    thread = selectors.thread_get_for_customer(channel=state.channel, customer=_customer(state), public_id=public_id)
    return state.remember(thread)


def _fresh(thread: Thread) -> Thread:
    thread.refresh_from_db(fields=["name", "is_locked", "is_archived", "last_sequence"])
    return thread


def _fresh_customer(state: ConnectionState) -> Customer:
    """The socket's customer with names and fields as stored now (agents and other tabs edit them)."""
    customer = _customer(state)
    customer.refresh_from_db(fields=["first_name", "last_name", "custom_fields", "is_verified"])
    return customer


def _message(state: ConnectionState, message: Message, thread: Thread) -> dict[str, Any]:
    return cxone_message(message, thread=thread, customer=_customer(state), bot_name=state.bot_name)


def _messages_page(state: ConnectionState, thread: Thread, before: int | None) -> tuple[list[dict[str, Any]], str]:
    """A page of messages newest first, and the scroll token of the next older page ("" at the start)."""
    size = page_size()
    page = selectors.messages_before(thread=thread, before_sequence=before, limit=size + 1, for_customer=True)
    has_more = len(page) > size
    page = page[1:] if has_more else page
    token = str(page[0].sequence) if has_more and page else ""
    return [_message(state, message, thread) for message in reversed(page)], token


def _agent_user(contact: Contact | None) -> dict[str, Any] | None:
    return cxone_user(contact.assigned_agent) if contact is not None else None


def _customer_summary(customer: Customer) -> dict[str, Any]:
    return {
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "fullName": customer.full_name,
        "customFields": cxone_custom_fields(customer.custom_fields),
    }


def customer_bind(state: ConnectionState, customer: Customer) -> None:
    """Binds the socket to the customer and queues its groups; a socket never changes customer.

    The most recent threads' groups are joined (``flush_joins``) before the
    client can read anything; older threads join when first touched.
    """
    if state.customer is not None and state.customer.pk != customer.pk:
        raise Conflict("This connection already belongs to another customer; reconnect to change.")
    state.customer = customer
    state.pending_joins.add(realtime.customer_group(customer.pk))
    threads = selectors.threads_of_customer(channel=state.channel, customer=customer, include_archived=True)
    for thread in threads.select_related("channel", "customer")[:MAX_THREADS_JOINED]:
        state.remember(thread, join_now=False)


# --- Authorization (legacy flow) ----------------------------------------------


def authorize_customer(state: ConnectionState, frame: ClientFrame) -> Frames:
    authorization = frame.data.get("authorization")
    code = authorization.get("authorizationCode") if isinstance(authorization, dict) else None
    if state.customer is not None and not code:
        customer = state.customer
    elif code:
        customer = customer_verified(channel=state.channel, identity=identity_verify(channel=state.channel, token=code))
    else:
        customer = customer_anonymous(
            channel=state.channel,
            external_id=state.legacy_customer_id,
            identity=frame.payload.get("consumerIdentity"),
        )
    customer_bind(state, customer)
    access = token_issue(kind="legacy", channel_pk=state.channel.pk, customer_pk=customer.pk)
    data = {
        "consumerIdentity": cxone_customer_identity(customer),
        "accessToken": {"token": access.token, "expiresIn": access.expires_in},
        "customer": {"customFields": cxone_custom_fields(customer.custom_fields)},
        "contact": {"customFields": []},
    }
    return [
        cxone_postback(frame.event_id, "ConsumerAuthorized", data, status="success", authorizationStatus="authorized")
    ]


def _legacy_token_customer(state: ConnectionState, frame: ClientFrame) -> Customer:
    access = frame.data.get("accessToken")
    token = access.get("token") if isinstance(access, dict) else None
    claims = token_read(kind="legacy", token=token, channel_pk=state.channel.pk)
    customer = claims and selectors.customer_get(brand_pk=state.channel.brand_id, customer_pk=claims.customer_pk)
    if not customer:
        raise PermissionDenied("The access token is invalid or has expired.")
    return customer


def reconnect_consumer(state: ConnectionState, frame: ClientFrame) -> Frames:
    customer_bind(state, _legacy_token_customer(state, frame))
    return [cxone_postback(frame.event_id, "ConsumerReconnected", {})]


def refresh_token(state: ConnectionState, frame: ClientFrame) -> Frames:
    customer = _legacy_token_customer(state, frame)
    if state.customer is not None and state.customer.pk != customer.pk:
        raise PermissionDenied("The access token belongs to another customer.")
    access = token_issue(kind="legacy", channel_pk=state.channel.pk, customer_pk=customer.pk)
    return [
        cxone_postback(
            frame.event_id, "TokenRefreshed", {"accessToken": {"token": access.token, "expiresIn": access.expires_in}}
        )
    ]


# --- Messages -----------------------------------------------------------------


def _check_third_party_token(state: ConnectionState, frame: ClientFrame) -> None:
    if state.channel.auth_mode != Channel.AuthMode.THIRD_PARTY:
        return
    access = frame.data.get("accessToken")
    claims = token_read(
        kind="tp-access", token=access.get("token") if isinstance(access, dict) else None, channel_pk=state.channel.pk
    )
    if claims is None or claims.customer_pk != _customer(state).pk:
        raise PermissionDenied("The third-party access token is missing, invalid or expired.")


def _fields(section: Any) -> list[Any]:
    fields = section.get("customFields") if isinstance(section, dict) else None
    if fields is None:
        return []
    if not isinstance(fields, list):
        raise InvalidInput("customFields is a list.")
    return fields


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
    public_ids = []
    for item in items:
        public_id = views.attachment_public_id(
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


def _adopt_names(state: ConnectionState, frame: ClientFrame) -> None:
    """Takes the visitor's name from the SDK (``customerName``, ``setName``) unless a signed identity set it."""
    customer = _customer(state)
    identity = frame.payload.get("consumerIdentity") or frame.payload.get("customerIdentity")  # web, mobile
    if customer.is_verified or not isinstance(identity, dict):
        return
    names = {
        field: value[:120]
        for field, key in (("first_name", "firstName"), ("last_name", "lastName"))
        if isinstance(value := identity.get(key), str) and value.strip()
    }
    if any(getattr(customer, field) != value for field, value in names.items()):
        state.customer = services.customer_update(customer=customer, values=names)


def send_message(state: ConnectionState, frame: ClientFrame) -> Frames:
    customer = _customer(state)
    _check_third_party_token(state, frame)
    public_id = frame.thread_public_id
    if public_id is None:
        raise InvalidInput("data.thread.idOnExternalPlatform is required.")
    client_id = frame.data.get("idOnExternalPlatform")
    if client_id is not None and not isinstance(client_id, str):
        raise InvalidInput("data.idOnExternalPlatform is a string.")
    content = _content(frame)
    attachments = _attachments(state, frame)
    customer_fields = _fields(frame.data.get("consumer"))
    contact_fields = _fields(frame.data.get("consumerContact"))
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
        state.remember(thread)  # joined before the message's events are published
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
        state.customer = services.customer_update(customer=_customer(state), custom_fields=customer_fields)
    if result.created and contact_fields and result.message.contact is not None:
        services.contact_update_custom_fields(contact=result.message.contact, values=contact_fields)
    return [cxone_ack(frame.event_id)]


def send_outbound(state: ConnectionState, frame: ClientFrame) -> Frames:
    raise PermissionDenied("Outbound messages come from agents, not from the visitor's page.")


def send_offline_message(state: ConnectionState, frame: ClientFrame) -> Frames:
    content = _content(frame)
    author = frame.data.get("authorCustomerIdentity")
    author = author if isinstance(author, dict) else {}
    email = author.get("idOnExternalPlatform")
    services.offline_message_create(
        channel=state.channel,
        customer=_customer(state),
        text=content["text"],
        email=email if isinstance(email, str) else "",
        first_name=_text(author.get("firstName"), 120),
        last_name=_text(author.get("lastName"), 120),
    )
    return [cxone_postback(frame.event_id, "OfflineMessageSent", {})]


def ack_only(state: ConnectionState, frame: ClientFrame) -> Frames:
    _customer(state)
    return [cxone_ack(frame.event_id)]


# --- Threads ------------------------------------------------------------------


def _recovered(state: ConnectionState, frame: ClientFrame, thread: Thread, event_type: str) -> Frames:
    contact = selectors.contact_current(thread=thread)
    if contact is None:
        raise ThreadNotFound("The thread has no conversation yet.")
    since = frame.data.get("sinceSequence")
    if isinstance(since, int) and not isinstance(since, bool) and since >= 0:
        newer = selectors.messages_after(thread=thread, after_sequence=since, limit=page_size() * 5, for_customer=True)
        messages = [_message(state, message, thread) for message in reversed(newer)]
        token = str(newer[0].sequence) if newer and newer[0].sequence > 1 else ""
    else:
        messages, token = _messages_page(state, thread, None)
    agent = _agent_user(contact)
    state.saw(thread.pk, _fresh(thread).last_sequence)
    state.contact_queues[contact.pk] = contact.queue_id
    data = {
        "thread": cxone_thread_view(thread, state.channel.channel_id),
        "contact": cxone_contact(contact, thread),
        "messages": messages,
        "messagesScrollToken": token,
        "inboxAssignee": agent,
        "ownerAssignee": agent,
        "contactHistory": [],
        "customer": _customer_summary(_fresh_customer(state)),
        "lastSequence": thread.last_sequence,
    }
    return [cxone_postback(frame.event_id, event_type, data)]


def recover_thread(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = _thread(state, frame, required=False)
    if thread is None:
        thread = selectors.thread_latest_for_customer(channel=state.channel, customer=_customer(state))
        if thread is None:
            raise ThreadNotFound("The customer has no thread on this channel.")
        state.remember(thread)
    return _recovered(state, frame, thread, "ThreadRecovered")


def recover_livechat(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = _thread(state, frame, required=False)
    if thread is None:
        thread = selectors.thread_latest_for_customer(channel=state.channel, customer=_customer(state))
        contact = selectors.contact_current(thread=thread) if thread is not None else None
        if thread is None or contact is None or not contact.is_open:
            raise ThreadNotFound("The customer has no open live chat.")
        state.remember(thread)
    return _recovered(state, frame, thread, "LivechatRecovered")


def fetch_thread_list(state: ConnectionState, frame: ClientFrame) -> Frames:
    threads = selectors.threads_of_customer(channel=state.channel, customer=_customer(state), include_archived=True)
    views_ = [cxone_thread_view(thread, state.channel.channel_id) for thread in threads[:MAX_THREADS_LISTED]]
    return [cxone_postback(frame.event_id, "ThreadListFetched", {"threads": views_})]


def load_more_messages(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = _thread(state, frame)
    assert thread is not None
    token = frame.data.get("scrollToken")
    if not isinstance(token, str) or not re.fullmatch(r"[1-9][0-9]{0,17}", token):
        raise InvalidInput("scrollToken is the token of a previous page.")
    messages, next_token = _messages_page(state, thread, int(token))
    return [
        cxone_postback(
            frame.event_id,
            "MoreMessagesLoaded",
            {"messages": messages, "scrollToken": next_token, "contactHistory": []},
        )
    ]


def load_thread_metadata(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = _thread(state, frame)
    assert thread is not None
    last = selectors.messages_before(thread=thread, before_sequence=None, limit=1, for_customer=True)
    contact = selectors.contact_current(thread=thread)
    data = {
        "lastMessage": _message(state, last[0], thread) if last else None,
        "ownerAssignee": _agent_user(contact),
        "thread": cxone_thread_view(_fresh(thread), state.channel.channel_id),
    }
    return [cxone_postback(frame.event_id, "ThreadMetadataLoaded", data)]


def archive_thread(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = _thread(state, frame)
    assert thread is not None
    services.thread_set_archived(thread=thread, archived=True)
    return [cxone_postback(frame.event_id, "ThreadArchived", {})]


def update_thread(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = _thread(state, frame)
    assert thread is not None
    name = frame.data["thread"].get("threadName")
    if not isinstance(name, str):
        raise InvalidInput("data.thread.threadName is a string.")
    thread = services.thread_rename(thread=thread, name=name)
    return [
        cxone_postback(frame.event_id, "ThreadUpdated", {"thread": cxone_thread_view(thread, state.channel.channel_id)})
    ]


def message_seen(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = _thread(state, frame)
    assert thread is not None
    services.messages_mark_seen(thread=_fresh(thread), reader="customer")
    return [cxone_ack(frame.event_id)]


def _typing(is_typing: bool) -> Handler:
    def handler(state: ConnectionState, frame: ClientFrame) -> Frames:
        thread = _thread(state, frame)
        assert thread is not None
        services.typing_set(thread=thread, actor="customer", is_typing=is_typing)
        return [cxone_ack(frame.event_id)]

    return handler


# --- Custom fields, contacts ----------------------------------------------------


def set_customer_fields(state: ConnectionState, frame: ClientFrame) -> Frames:
    fields = _fields(frame.data)
    state.customer = services.customer_update(customer=_customer(state), custom_fields=fields)
    return [cxone_ack(frame.event_id)]


def set_contact_fields(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = _thread(state, frame)
    assert thread is not None
    contact = selectors.contact_current(thread=thread)
    if contact is None or not contact.is_open:
        raise Conflict("The thread has no open contact.")
    services.contact_update_custom_fields(contact=contact, values=_fields(frame.data))
    return [cxone_ack(frame.event_id)]


def end_contact(state: ConnectionState, frame: ClientFrame) -> Frames:
    if not state.channel.is_live_chat:
        raise NotOffered("Only agents end a messaging conversation.")
    thread = _thread(state, frame)
    assert thread is not None
    contact = selectors.contact_current(thread=thread)
    requested = frame.data.get("contact")
    requested_id = requested.get("id") if isinstance(requested, dict) else None
    if contact is None or (requested_id is not None and str(requested_id) != str(contact.pk)):
        raise ThreadNotFound("Unknown contact.")
    if contact.is_open:
        services.contact_set_status(contact=contact, status=Contact.Status.CLOSED)
    return [cxone_ack(frame.event_id)]


def generate_authorization_token(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = _thread(state, frame)
    assert thread is not None
    issued = token_issue(
        kind="authorization", channel_pk=state.channel.pk, customer_pk=_customer(state).pk, thread_pk=thread.pk
    )
    data = {"authorizationToken": {"token": issued.token, "expiresIn": issued.expires_in}}
    return [cxone_postback(frame.event_id, "AuthorizationTokenGenerated", data)]


def not_offered(message: str) -> Handler:
    def handler(state: ConnectionState, frame: ClientFrame) -> Frames:
        raise NotOffered(message)

    return handler


# --- Page context ---------------------------------------------------------------


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def send_page_views(state: ConnectionState, frame: ClientFrame) -> Frames:
    views_ = frame.data.get("pageViews")
    if not isinstance(views_, list):
        raise InvalidInput("data.pageViews is a list.")
    thread = _thread(state, frame, required=False)
    if thread is not None:
        trail = [
            {
                "url": _text(view.get("pageUrl"), 500),
                "title": _text(view.get("pageTitle"), 200),
                "at": _text(view.get("visitedAt"), 40),
            }
            for view in views_[-MAX_PAGE_VIEWS:]
            if isinstance(view, dict)
        ]
        current = trail[-1] if trail else None
        context: dict[str, Any] = {"pageViews": trail}
        if current:
            context["currentPage"] = current
        services.thread_update_context(thread=thread, context=context)
    else:
        _customer(state)
    return [cxone_ack(frame.event_id)]


def store_visitor(state: ConnectionState, frame: ClientFrame) -> Frames:
    variables = frame.data.get("customVariables") or []
    if not isinstance(variables, list):
        raise InvalidInput("data.customVariables is a list.")
    extra = {
        _text(item.get("identifier"), 64): _text(item.get("value"), 500)
        for item in variables
        if isinstance(item, dict) and _text(item.get("identifier"), 64)
    }
    if extra:
        state.customer = services.customer_update(customer=_customer(state), values={"extra": extra})
    else:
        _customer(state)
    return [cxone_ack(frame.event_id)]


HANDLERS: dict[str, Handler] = {
    "AuthorizeCustomer": authorize_customer,
    "AuthorizeConsumer": authorize_customer,
    "ReconnectConsumer": reconnect_consumer,
    "RefreshToken": refresh_token,
    "SendMessage": send_message,
    "SendOutbound": send_outbound,
    "SendOfflineMessage": send_offline_message,
    "SendMessagePreview": ack_only,
    "RecoverThread": recover_thread,
    "RecoverLivechat": recover_livechat,
    "FetchThreadList": fetch_thread_list,
    "LoadMoreMessages": load_more_messages,
    "LoadThreadMetadata": load_thread_metadata,
    "ArchiveThread": archive_thread,
    "UpdateThread": update_thread,
    "MessageSeenByConsumer": message_seen,
    "MessageSeenByCustomer": message_seen,
    "SenderTypingStarted": _typing(True),
    "SenderTypingEnded": _typing(False),
    "SetConsumerCustomFields": set_customer_fields,
    "SetCustomerCustomFields": set_customer_fields,
    "SetConsumerContactCustomFields": set_contact_fields,
    "SetContactCustomFields": set_contact_fields,
    "EndContact": end_contact,
    "SendTranscript": not_offered("Transcripts are not offered on this channel."),
    "GenerateAuthorizationToken": generate_authorization_token,
    "CreateInvitationToGroupChat": not_offered("Group chat is not offered on this channel."),
    "SendEmailInvitationToGroupChat": not_offered("Group chat is not offered on this channel."),
    "JoinGroupChat": not_offered("Group chat is not offered on this channel."),
    "LeaveGroupChat": not_offered("Group chat is not offered on this channel."),
    "SendPageViews": send_page_views,
    "StoreVisitor": store_visitor,
    "StoreVisitorEvents": ack_only,
    "ExecuteTrigger": ack_only,
    "AddVisitorTags": ack_only,
    "RemoveVisitorTags": ack_only,
}
