"""What every visitor request handler shares: lookups through the socket's cache, rendering, errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings

from chat import realtime, selectors
from chat.gateway.protocol import (
    ClientFrame,
    cxone_custom_fields,
    cxone_message,
    cxone_user,
)
from chat.gateway.state import ConnectionState
from chat.models import Contact, Customer, Message, Thread
from engage.errors import Conflict, InvalidInput, PermissionDenied

if TYPE_CHECKING:
    from chat.gateway.handlers.large import LargeAnswer

Frames = list[dict[str, Any]]
# What a handler answers: frames, and ``LargeAnswer``s the consumer has rendered apart (handlers/large.py).
Handler = Callable[[ConnectionState, ClientFrame], "Sequence[dict[str, Any] | LargeAnswer]"]

MAX_THREADS_LISTED = 100
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


def customer_of(state: ConnectionState) -> Customer:
    """The socket's customer, read on first use if the handshake bound it unread (a transaction token)."""
    customer = state.customer
    if customer is None:
        raise NotAuthorized()
    unread = customer.get_deferred_fields()
    if unread:
        try:
            customer.refresh_from_db(fields=sorted(unread))
        except Customer.DoesNotExist:
            raise NotAuthorized("This customer no longer exists.") from None
    return customer


def thread_of(state: ConnectionState, frame: ClientFrame, *, required: bool = True) -> Thread | None:
    public_id = frame.thread_public_id
    if public_id is None:
        if required:
            raise InvalidInput("data.thread.idOnExternalPlatform is required.")
        return None
    cached = state.threads.get(public_id)
    if cached is not None:
        return cached
    thread = selectors.thread_get_for_customer(channel=state.channel, customer=customer_of(state), public_id=public_id)
    return state.remember(thread)


def fresh_thread(thread: Thread) -> Thread:
    thread.refresh_from_db(fields=["name", "is_locked", "is_archived", "last_sequence"])
    return thread


def fresh_customer(state: ConnectionState) -> Customer:
    """The socket's customer with names and fields as stored now (agents and other tabs edit them)."""
    customer = customer_of(state)
    customer.refresh_from_db(fields=["first_name", "last_name", "custom_fields", "is_verified"])
    return customer


def render_message(state: ConnectionState, message: Message, thread: Thread) -> dict[str, Any]:
    return cxone_message(message, thread=thread, customer=customer_of(state), bot_name=state.bot_name)


def messages_rendered(
    thread: Thread, customer: Customer, bot_name: str, *, since: int | None = None, before: int | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Messages newest first, and the scroll token of the page older than them ("" at the start).

    With ``since``: the messages after that sequence (a resync, up to five pages); else the
    page before ``before`` (the newest page if None).
    """
    size = page_size()
    if since is not None:
        page = selectors.messages_after(thread=thread, after_sequence=since, limit=size * 5, for_customer=True)
        token = str(page[0].sequence) if page and page[0].sequence > 1 else ""
    else:
        page = selectors.messages_before(thread=thread, before_sequence=before, limit=size + 1, for_customer=True)
        has_more = len(page) > size
        page = page[1:] if has_more else page
        token = str(page[0].sequence) if has_more and page else ""
    rendered = [cxone_message(message, thread=thread, customer=customer, bot_name=bot_name) for message in page]
    return rendered[::-1], token


def messages_page(state: ConnectionState, thread: Thread, before: int | None) -> tuple[list[dict[str, Any]], str]:
    """A page of messages newest first, and the scroll token of the next older page ("" at the start)."""
    return messages_rendered(thread, customer_of(state), state.bot_name, before=before)


def agent_user(contact: Contact | None) -> dict[str, Any] | None:
    return cxone_user(contact.assigned_agent) if contact is not None else None


def customer_summary(customer: Customer) -> dict[str, Any]:
    return {
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "fullName": customer.full_name,
        "customFields": cxone_custom_fields(customer.custom_fields),
    }


def customer_bind(state: ConnectionState, customer: Customer) -> None:
    """Binds the socket to the customer and queues its group; a socket never changes customer.

    No database work: the customer's group (``chat.realtime.customer_group``)
    carries the events of all its threads, including threads created later or
    on other sockets, so no thread list is read; the consumer joins it
    (``flush_joins``) before the client can read anything.
    """
    if state.customer is not None and state.customer.pk != customer.pk:
        raise Conflict("This connection already belongs to another customer; reconnect to change.")
    state.customer = customer
    state.join_later(realtime.customer_group(customer.pk))


def fields_of(section: Any) -> list[Any]:
    fields = section.get("customFields") if isinstance(section, dict) else None
    if fields is None:
        return []
    if not isinstance(fields, list):
        raise InvalidInput("customFields is a list.")
    return fields


def text_of(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""
