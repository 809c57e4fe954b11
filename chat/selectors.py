"""Reads of conversations with more than one caller. Every one is tenant-scoped."""

from __future__ import annotations

from django.db.models import QuerySet

from chat.errors import ThreadNotFound
from chat.models import Contact, Customer, Message, Thread
from engage.models import Channel, Tenant


def thread_get_for_customer(*, channel: Channel, customer: Customer, public_id: str) -> Thread:
    """The customer's own thread with this public id; another customer's id is ThreadNotFound."""
    thread = (
        Thread.objects.filter(channel=channel, customer=customer, public_id=str(public_id))
        .select_related("channel", "customer")
        .first()
    )
    if thread is None:
        raise ThreadNotFound()
    return thread


def thread_get(*, tenant: Tenant, thread_id: int) -> Thread:
    thread = Thread.objects.filter(tenant=tenant, pk=thread_id).select_related("channel", "customer").first()
    if thread is None:
        raise ThreadNotFound()
    return thread


def threads_of_customer(*, channel: Channel, customer: Customer, include_archived: bool = False) -> QuerySet[Thread]:
    threads = Thread.objects.filter(channel=channel, customer=customer)
    if not include_archived:
        threads = threads.filter(is_archived=False)
    return threads.order_by("-last_message_at", "-created_at")


def messages_after(*, thread: Thread, after_sequence: int = 0, limit: int = 100, for_customer: bool) -> list[Message]:
    """Messages with a sequence above ``after_sequence``, oldest first: the resync read."""
    messages = Message.objects.filter(thread=thread, sequence__gt=after_sequence)
    if for_customer:
        messages = messages.filter(is_internal=False)
    return list(
        messages.select_related("author_agent__user").prefetch_related("attachments").order_by("sequence")[:limit]
    )


def messages_before(*, thread: Thread, before_sequence: int | None, limit: int = 50, for_customer: bool) -> list[Message]:
    """Up to ``limit`` messages older than ``before_sequence`` (newest page if None), oldest first."""
    messages = Message.objects.filter(thread=thread)
    if before_sequence is not None:
        messages = messages.filter(sequence__lt=before_sequence)
    if for_customer:
        messages = messages.filter(is_internal=False)
    page = list(
        messages.select_related("author_agent__user").prefetch_related("attachments").order_by("-sequence")[:limit]
    )
    return page[::-1]


def contact_current(*, thread: Thread) -> Contact | None:
    """The open contact of the thread, else its latest one."""
    return (
        Contact.objects.filter(thread=thread, status__in=Contact.OPEN_STATUSES).first()
        or Contact.objects.filter(thread=thread).order_by("-created_at").first()
    )
