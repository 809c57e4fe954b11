"""The CXone Chat Web SDK 2.2.0 protocol as Parley speaks it: frames and object shapes.

See docs/visitor-protocol.md and shared reference ``cxone-chat-protocol.md``.
"""

from chat.gateway.protocol.frames import (
    MAX_INBOUND_FRAME_BYTES,
    MAX_OUTBOUND_FRAME_BYTES,
    PONG,
    ClientFrame,
    Heartbeat,
    ProtocolError,
    cxone_ack,
    cxone_dumps,
    cxone_error,
    cxone_event_in_s3,
    cxone_frame_type,
    cxone_parse_frame,
    cxone_postback,
    cxone_push,
    cxone_timestamp,
)
from chat.gateway.protocol.objects import (
    cxone_attachment,
    cxone_contact,
    cxone_custom_fields,
    cxone_customer_identity,
    cxone_message,
    cxone_thread_view,
    cxone_user,
)

__all__ = [
    "MAX_INBOUND_FRAME_BYTES",
    "MAX_OUTBOUND_FRAME_BYTES",
    "PONG",
    "ClientFrame",
    "Heartbeat",
    "ProtocolError",
    "cxone_ack",
    "cxone_attachment",
    "cxone_contact",
    "cxone_custom_fields",
    "cxone_customer_identity",
    "cxone_dumps",
    "cxone_error",
    "cxone_event_in_s3",
    "cxone_frame_type",
    "cxone_message",
    "cxone_parse_frame",
    "cxone_postback",
    "cxone_push",
    "cxone_thread_view",
    "cxone_timestamp",
    "cxone_user",
]
