"""Requests about threads and contacts: recover, list, page, rename, archive, fields, end, page context."""

from __future__ import annotations

import re
from typing import Any

from chat import selectors, services
from chat.errors import ThreadNotFound
from chat.gateway.handlers.common import (
    MAX_PAGE_VIEWS,
    MAX_THREADS_LISTED,
    Frames,
    Handler,
    NotOffered,
    agent_user,
    customer_of,
    customer_summary,
    fields_of,
    fresh_customer,
    fresh_thread,
    render_message,
    text_of,
    thread_of,
)
from chat.gateway.handlers.large import Answers, with_messages
from chat.gateway.protocol import (
    ClientFrame,
    cxone_ack,
    cxone_contact,
    cxone_postback,
    cxone_thread_view,
)
from chat.gateway.state import ConnectionState
from chat.gateway.tokens import token_issue
from chat.models import Contact, Thread
from engage.errors import Conflict, InvalidInput


def _recovered(state: ConnectionState, frame: ClientFrame, thread: Thread, event_type: str) -> Answers:
    contact = selectors.contact_current(thread=thread)
    if contact is None:
        raise ThreadNotFound("The thread has no conversation yet.")
    since = frame.data.get("sinceSequence")
    if not isinstance(since, int) or isinstance(since, bool) or since < 0:
        since = None
    agent = agent_user(contact)
    state.saw(thread.pk, fresh_thread(thread).last_sequence)
    state.contact_queues[contact.pk] = contact.queue_id
    data: dict[str, Any] = {
        "thread": cxone_thread_view(thread, state.channel.channel_id),
        "contact": cxone_contact(contact, thread),
        "messages": [],
        "messagesScrollToken": "",
        "inboxAssignee": agent,
        "ownerAssignee": agent,
        "contactHistory": [],
        "customer": customer_summary(fresh_customer(state)),
        "lastSequence": thread.last_sequence,
    }
    return [with_messages(state, frame, event_type, data, thread=thread, token_key="messagesScrollToken", since=since)]


def recover_thread(state: ConnectionState, frame: ClientFrame) -> Answers:
    thread = thread_of(state, frame, required=False)
    if thread is None:
        thread = selectors.thread_latest_for_customer(channel=state.channel, customer=customer_of(state))
        if thread is None:
            raise ThreadNotFound("The customer has no thread on this channel.")
        state.remember(thread)
    return _recovered(state, frame, thread, "ThreadRecovered")


def recover_livechat(state: ConnectionState, frame: ClientFrame) -> Answers:
    thread = thread_of(state, frame, required=False)
    if thread is None:
        thread = selectors.thread_latest_for_customer(channel=state.channel, customer=customer_of(state))
        contact = selectors.contact_current(thread=thread) if thread is not None else None
        if thread is None or contact is None or not contact.is_open:
            raise ThreadNotFound("The customer has no open live chat.")
        state.remember(thread)
    return _recovered(state, frame, thread, "LivechatRecovered")


def fetch_thread_list(state: ConnectionState, frame: ClientFrame) -> Frames:
    threads = selectors.threads_of_customer(channel=state.channel, customer=customer_of(state), include_archived=True)
    views_ = [cxone_thread_view(thread, state.channel.channel_id) for thread in threads[:MAX_THREADS_LISTED]]
    return [cxone_postback(frame.event_id, "ThreadListFetched", {"threads": views_})]


def load_more_messages(state: ConnectionState, frame: ClientFrame) -> Answers:
    thread = thread_of(state, frame)
    assert thread is not None
    token = frame.data.get("scrollToken")
    if not isinstance(token, str) or not re.fullmatch(r"[1-9][0-9]{0,17}", token):
        raise InvalidInput("scrollToken is the token of a previous page.")
    data = {"messages": [], "scrollToken": "", "contactHistory": []}
    return [
        with_messages(
            state, frame, "MoreMessagesLoaded", data, thread=thread, token_key="scrollToken", before=int(token)
        )
    ]


def load_thread_metadata(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = thread_of(state, frame)
    assert thread is not None
    last = selectors.messages_before(thread=thread, before_sequence=None, limit=1, for_customer=True)
    contact = selectors.contact_current(thread=thread)
    data = {
        "lastMessage": render_message(state, last[0], thread) if last else None,
        "ownerAssignee": agent_user(contact),
        "thread": cxone_thread_view(fresh_thread(thread), state.channel.channel_id),
    }
    return [cxone_postback(frame.event_id, "ThreadMetadataLoaded", data)]


def archive_thread(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = thread_of(state, frame)
    assert thread is not None
    services.thread_set_archived(thread=thread, archived=True)
    return [cxone_postback(frame.event_id, "ThreadArchived", {})]


def update_thread(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = thread_of(state, frame)
    assert thread is not None
    name = frame.data["thread"].get("threadName")
    if not isinstance(name, str):
        raise InvalidInput("data.thread.threadName is a string.")
    thread = services.thread_rename(thread=thread, name=name)
    return [
        cxone_postback(frame.event_id, "ThreadUpdated", {"thread": cxone_thread_view(thread, state.channel.channel_id)})
    ]


def message_seen(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = thread_of(state, frame)
    assert thread is not None
    services.messages_mark_seen(thread=fresh_thread(thread), reader="customer")
    return [cxone_ack(frame.event_id)]


def typing_handler(is_typing: bool) -> Handler:
    def handler(state: ConnectionState, frame: ClientFrame) -> Frames:
        thread = thread_of(state, frame)
        assert thread is not None
        services.typing_set(thread=thread, actor="customer", is_typing=is_typing)
        return [cxone_ack(frame.event_id)]

    return handler


# --- Custom fields, contacts ----------------------------------------------------


def set_customer_fields(state: ConnectionState, frame: ClientFrame) -> Frames:
    fields = fields_of(frame.data)
    state.customer = services.customer_update(customer=customer_of(state), custom_fields=fields)
    return [cxone_ack(frame.event_id)]


def set_contact_fields(state: ConnectionState, frame: ClientFrame) -> Frames:
    thread = thread_of(state, frame)
    assert thread is not None
    contact = selectors.contact_current(thread=thread)
    if contact is None or not contact.is_open:
        raise Conflict("The thread has no open contact.")
    services.contact_update_custom_fields(contact=contact, values=fields_of(frame.data))
    return [cxone_ack(frame.event_id)]


def end_contact(state: ConnectionState, frame: ClientFrame) -> Frames:
    if not state.channel.is_live_chat:
        raise NotOffered("Only agents end a messaging conversation.")
    thread = thread_of(state, frame)
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
    thread = thread_of(state, frame)
    assert thread is not None
    issued = token_issue(
        kind="authorization", channel_pk=state.channel.pk, customer_pk=customer_of(state).pk, thread_pk=thread.pk
    )
    data = {"authorizationToken": {"token": issued.token, "expiresIn": issued.expires_in}}
    return [cxone_postback(frame.event_id, "AuthorizationTokenGenerated", data)]


def not_offered(message: str) -> Handler:
    def handler(state: ConnectionState, frame: ClientFrame) -> Frames:
        raise NotOffered(message)

    return handler


# --- Page context ---------------------------------------------------------------


def send_page_views(state: ConnectionState, frame: ClientFrame) -> Frames:
    views_ = frame.data.get("pageViews")
    if not isinstance(views_, list):
        raise InvalidInput("data.pageViews is a list.")
    thread = thread_of(state, frame, required=False)
    if thread is not None:
        trail = [
            {
                "url": text_of(view.get("pageUrl"), 500),
                "title": text_of(view.get("pageTitle"), 200),
                "at": text_of(view.get("visitedAt"), 40),
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
        customer_of(state)
    return [cxone_ack(frame.event_id)]


def store_visitor(state: ConnectionState, frame: ClientFrame) -> Frames:
    variables = frame.data.get("customVariables") or []
    if not isinstance(variables, list):
        raise InvalidInput("data.customVariables is a list.")
    extra = {
        text_of(item.get("identifier"), 64): text_of(item.get("value"), 500)
        for item in variables
        if isinstance(item, dict) and text_of(item.get("identifier"), 64)
    }
    if extra:
        state.customer = services.customer_update(customer=customer_of(state), values={"extra": extra})
    else:
        customer_of(state)
    return [cxone_ack(frame.event_id)]
