"""Reads of conversations with more than one caller. Every one is tenant-scoped."""

from __future__ import annotations

from django.db import models
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Length

from chat.errors import ThreadNotFound
from chat.models import Attachment, Contact, Customer, Message, Thread
from engage.models import Channel, Membership, Tenant


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


def with_attachments(messages: list[Message]) -> list[Message]:
    """``prefetch_related("attachments")`` without its reference cycles: one query reads the
    attachments of all ``messages`` (none if empty), and each message's ``attachments.all()``
    answers from it, in the same order.

    Django's prefetch points every attachment, and the queryset it caches on each message,
    back at the message: a page of messages, decrypted content included, then outlives its
    use as garbage only the cyclic collector frees, in collections that pause the whole
    process (docs/performance.md, "Collector pauses"). Nothing points back here, so a page is
    freed once rendered; an attachment's ``message`` is not filled in (reading it queries).
    """
    found: dict[int, list[Attachment]] = {message.pk: [] for message in messages}
    if found:
        for attachment in Attachment.objects.filter(message_id__in=list(found)):
            found[attachment.message_id].append(attachment)  # type: ignore[index]
    for message in messages:
        cached = Attachment.objects.filter(message_id=message.pk)  # message.attachments.all(), by id
        cached._result_cache = found[message.pk]  # as Django's prefetch fills it
        cached._prefetch_done = True  # type: ignore[attr-defined]
        message._prefetched_objects_cache = {_ATTACHMENTS: cached}  # type: ignore[attr-defined]
    return messages


_ATTACHMENTS = Message._meta.get_field("attachments").cache_name


def first_with_attachments(messages: QuerySet[Message]) -> Message | None:
    """``messages.first()``, read with its attachments as ``with_attachments`` reads them."""
    first = messages.first()
    return None if first is None else with_attachments([first])[0]


def messages_after(*, thread: Thread, after_sequence: int = 0, limit: int = 100, for_customer: bool) -> list[Message]:
    """Messages with a sequence above ``after_sequence``, oldest first: the resync read."""
    messages = Message.objects.filter(thread=thread, sequence__gt=after_sequence)
    if for_customer:
        messages = messages.filter(is_internal=False)
    return with_attachments(list(messages.select_related("author_agent__user").order_by("sequence")[:limit]))


def messages_before(
    *, thread: Thread, before_sequence: int | None, limit: int = 50, for_customer: bool
) -> list[Message]:
    """Up to ``limit`` messages older than ``before_sequence`` (newest page if None), oldest first."""
    messages = Message.objects.filter(thread=thread)
    if before_sequence is not None:
        messages = messages.filter(sequence__lt=before_sequence)
    if for_customer:
        messages = messages.filter(is_internal=False)
    page = list(messages.select_related("author_agent__user").order_by("-sequence")[:limit])
    return with_attachments(page[::-1])


def messages_stored_size(*, thread: Thread, after_sequence: int | None, before_sequence: int | None, limit: int) -> int:
    """The stored size of the content of the messages a customer's read returns (``messages_after``
    with ``after_sequence``, else ``messages_before``), in characters: what rendering them will
    cost, known without reading or decrypting them. One query of ``limit`` numbers."""
    messages = Message.objects.filter(thread=thread, is_internal=False)
    if after_sequence is not None:
        messages = messages.filter(sequence__gt=after_sequence).order_by("sequence")
    else:
        if before_sequence is not None:
            messages = messages.filter(sequence__lt=before_sequence)
        messages = messages.order_by("-sequence")
    return sum(messages.values_list(Length("content"), flat=True)[:limit])


def contact_current(*, thread: Thread) -> Contact | None:
    """The open contact of the thread, else its latest one; with its agent. One query."""
    open_first = models.Case(models.When(status__in=Contact.OPEN_STATUSES, then=0), default=1)
    return (
        Contact.objects.filter(thread=thread)
        .select_related("assigned_agent__user")
        .order_by(open_first, "-created_at", "-pk")
        .first()
    )


def channel_availability(channel: Channel) -> str:
    """``"online"`` when an agent of one of the channel's queues is available with free capacity.

    Free capacity: fewer open contacts assigned than ``max_concurrent_contacts``.
    Otherwise ``"offline"``. One query.
    """
    open_assigned = (
        Contact.objects.filter(assigned_agent=OuterRef("pk"), status__in=Contact.OPEN_STATUSES)
        .order_by()
        .values("assigned_agent")
        .annotate(total=models.Count("pk"))
        .values("total")
    )
    available = (
        Membership.objects.filter(
            tenant_id=channel.tenant_id, queues__channels=channel, presence=Membership.Presence.AVAILABLE
        )
        .annotate(open_contacts=Coalesce(Subquery(open_assigned, output_field=IntegerField()), 0))
        .filter(open_contacts__lt=models.F("max_concurrent_contacts"))
    )
    return "online" if available.exists() else "offline"


def customer_get(*, brand_pk: int, customer_pk: int) -> Customer | None:
    """The customer with this primary key if it belongs to the brand, else None."""
    return Customer.objects.filter(brand_id=brand_pk, pk=customer_pk).first()


def customer_find(*, brand_pk: int, id_on_external_platform: str) -> Customer | None:
    return Customer.objects.filter(brand_id=brand_pk, id_on_external_platform=id_on_external_platform).first()


def thread_latest_for_customer(*, channel: Channel, customer: Customer) -> Thread | None:
    """The customer's thread on the channel with the latest activity, archived ones last."""
    return (
        Thread.objects.filter(channel=channel, customer=customer)
        .select_related("channel", "customer")
        .order_by("is_archived", models.F("last_message_at").desc(nulls_last=True), "-created_at")
        .first()
    )


def message_for_customer(*, tenant_id: int, message_id: int) -> Message | None:
    """A message the customer may see (never an internal note), with what rendering it needs."""
    return first_with_attachments(
        Message.objects.filter(tenant_id=tenant_id, pk=message_id, is_internal=False).select_related(
            "thread__customer", "contact__assigned_agent__user", "author_agent__user"
        )
    )


def attachments_unclaimed(*, channel: Channel, public_ids: list[str]) -> list[Attachment]:
    """The channel's uploaded attachments with these public ids that no message uses yet."""
    return list(Attachment.objects.filter(channel=channel, public_id__in=public_ids, message__isnull=True))


def attachment_of_channel(*, channel: Channel, public_id: str) -> Attachment | None:
    return Attachment.objects.filter(channel=channel, public_id=public_id).first()


def contact_for_customer(*, tenant_id: int, contact_id: int) -> Contact | None:
    """A contact with its thread and assigned agent, for rendering to the thread's customer."""
    return (
        Contact.objects.filter(tenant_id=tenant_id, pk=contact_id)
        .select_related("thread", "assigned_agent__user")
        .first()
    )


def agent_get(*, tenant_id: int, agent_id: int) -> Membership | None:
    return Membership.objects.filter(tenant_id=tenant_id, pk=agent_id).select_related("user").first()


def message_last_of_side(*, thread: Thread, direction: str, up_to_sequence: int) -> Message | None:
    """The latest visible message of one direction at or below a sequence (receipts point at it)."""
    return first_with_attachments(
        Message.objects.filter(thread=thread, direction=direction, is_internal=False, sequence__lte=up_to_sequence)
        .select_related("author_agent__user")
        .order_by("-sequence")
    )
