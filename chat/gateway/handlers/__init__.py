"""One function per client event type: decode the request, call a service or selector, build the answer.

Each handler runs in a worker thread (it touches the database) and returns the
frames to send to the requesting socket, in order. Pushes to every socket of
the customer come separately, through the realtime groups, after commit.
Domain errors become error frames in the consumer. See docs/visitor-protocol.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from chat.gateway.handlers.authorization import authorize_customer, reconnect_consumer, refresh_token
from chat.gateway.handlers.common import Frames, Handler, NotAuthorized, NotOffered, customer_bind
from chat.gateway.handlers.messages import (
    ack_only,
    send_message,
    send_message_in_loop,
    send_offline_message,
    send_outbound,
)
from chat.gateway.handlers.threads import (
    archive_thread,
    end_contact,
    fetch_thread_list,
    generate_authorization_token,
    load_more_messages,
    load_thread_metadata,
    message_seen,
    not_offered,
    recover_livechat,
    recover_thread,
    send_page_views,
    set_contact_fields,
    set_customer_fields,
    store_visitor,
    typing_handler,
    update_thread,
)
from chat.gateway.protocol import ClientFrame
from chat.gateway.state import ConnectionState

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
    "SenderTypingStarted": typing_handler(True),
    "SenderTypingEnded": typing_handler(False),
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

# Coroutines tried first, in the event loop, for the commonest requests; None hands the frame to HANDLERS.
IN_LOOP: dict[str, Callable[[ConnectionState, ClientFrame], Awaitable[Frames | None]]] = {
    "SendMessage": send_message_in_loop,
}

__all__ = ["HANDLERS", "IN_LOOP", "NotAuthorized", "NotOffered", "customer_bind", "fetch_thread_list", "recover_thread"]
