"""Shared helpers of the console and API tests."""

from __future__ import annotations

from chat import services
from chat.models import Contact, Customer
from engage.models import Channel, Membership


def waiting_contact(cast, customer_id: str, *, channel: Channel | None = None, text: str = "hello") -> Contact:  # type: ignore[no-untyped-def]
    """A customer writes their first message: a new contact waits in the queue."""
    customer: Customer = services.customer_identify(brand=cast.brand, id_on_external_platform=customer_id)
    thread, _ = services.thread_get_or_create(channel=channel or cast.messaging, customer=customer)
    result = services.message_create(
        thread=thread, author_type="customer", content={"text": text}, client_id=f"{customer_id}-1"
    )
    return result.message.contact


def set_presence(member: Membership, presence: str, capacity: int | None = None) -> Membership:
    """Sets presence directly, without routing (for arranging a scene)."""
    member.presence = presence
    if capacity is not None:
        member.max_concurrent_contacts = capacity
    member.save(update_fields=["presence", "max_concurrent_contacts"])
    return member
