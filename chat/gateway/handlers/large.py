"""Answers whose messages are large, rendered in a process apart from the sockets'.

A ``RecoverThread``, ``RecoverLivechat`` or ``LoadMoreMessages`` answer carries a
page of messages. When they are large (adaptive cards, long texts: a megabyte is
not rare), reading, decrypting, rendering and serialising them holds the GIL for
tens of milliseconds, and every socket of the process waits that long for its
next frame (docs/performance.md, "Large events"). So above
``PARLEY_GATEWAY_RENDER_CHARS`` of stored content (known from one query of
numbers, before any message is read) the handler answers a ``LargeAnswer``: the
postback without its messages. The consumer has a process of ``RENDERERS``
(``PARLEY_GATEWAY_RENDER_PROCESSES``) read and render them, serialise the frame
and, past the frame limit, store it for the URL way (``EventInS3``); the socket
gets the text to send. If no process can (none configured, one died, past the
timeout) the socket's worker renders it, as it renders every other answer.

The answer's access checks and the socket's state (threads seen, queues) stay
with the handler; the process gets ids the handler has already checked.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.urls import get_resolver

from chat import selectors
from chat.errors import ThreadNotFound
from chat.gateway.handlers.common import NotAuthorized, customer_of, messages_rendered, page_size
from chat.gateway.large_events import frame_text
from chat.gateway.protocol import ClientFrame, cxone_dumps, cxone_error, cxone_postback
from chat.gateway.state import ConnectionState
from chat.models import Customer, Thread
from engage.errors import ParleyError
from engage.lib.cached_settings import setting
from engage.lib.processes import ProcessPool

RENDERERS = ProcessPool("PARLEY_GATEWAY_RENDER_PROCESSES", prepare=f"{__name__}.render_process_prepare")


@dataclasses.dataclass(frozen=True)
class LargeAnswer:
    """A postback whose messages (``data[messages_key]``, ``data[token_key]``) are still to be read."""

    event_id: str
    event_type: str
    data: dict[str, Any]
    token_key: str
    thread_id: int
    customer_id: int
    bot_name: str
    since: int | None = None
    before: int | None = None
    messages_key: str = "messages"

    def frame(self, thread: Thread | None = None, customer: Customer | None = None) -> dict[str, Any]:
        """The postback with its messages, read now (the thread and customer too unless given)."""
        try:
            thread = thread if thread is not None else Thread.objects.get(pk=self.thread_id)
            customer = customer if customer is not None else Customer.objects.get(pk=self.customer_id)
        except Thread.DoesNotExist:
            raise ThreadNotFound() from None
        except Customer.DoesNotExist:
            raise NotAuthorized("This customer no longer exists.") from None
        messages, token = messages_rendered(thread, customer, self.bot_name, since=self.since, before=self.before)
        data = {**self.data, self.messages_key: messages, self.token_key: token}
        return cxone_postback(self.event_id, self.event_type, data)


# What a handler that may leave its messages to a render process answers.
Answers = list[dict[str, Any] | LargeAnswer]


def with_messages(
    state: ConnectionState,
    frame: ClientFrame,
    event_type: str,
    data: dict[str, Any],
    *,
    thread: Thread,
    token_key: str,
    since: int | None = None,
    before: int | None = None,
) -> dict[str, Any] | LargeAnswer:
    """The postback ``data`` with the thread's messages (after ``since``, else the page before
    ``before``): rendered here, or left to a render process when they are large."""
    customer = customer_of(state)
    answer = LargeAnswer(
        event_id=frame.event_id,
        event_type=event_type,
        data=data,
        token_key=token_key,
        thread_id=thread.pk,
        customer_id=customer.pk,
        bot_name=state.bot_name,
        since=since,
        before=before,
    )
    if RENDERERS.enabled:
        limit = page_size() * 5 if since is not None else page_size() + 1
        size = selectors.messages_stored_size(thread=thread, after_sequence=since, before_sequence=before, limit=limit)
        if size >= setting("PARLEY_GATEWAY_RENDER_CHARS", 64 * 1024):
            return answer
    return answer.frame(thread, customer)


def render_process_prepare() -> None:
    """What a render process does once when it starts rather than in its first answer: this module
    imported (its caller) and the URLconf loaded, which the stored frame's link is reversed in
    (a third of a second: the whole API's modules)."""
    get_resolver().reverse_dict  # noqa: B018 (loads the URLconf and its reverse map)


def large_answer_text(answer: LargeAnswer, base_url: str) -> str:
    """In a render process: the text the socket sends, the frame itself or its ``EventInS3``.
    A refusal (the thread gone since) is the request's error frame, as the socket would answer it."""
    try:
        frame = answer.frame()
    except ParleyError as error:
        return cxone_dumps(cxone_error(answer.event_id, answer.event_type, error.message, reason=error.code))
    return frame_text(frame, base_url=base_url)
