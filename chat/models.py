"""Conversations: customers, threads, contacts (cases), messages, attachments.

Rows are written only by ``chat.services``. See docs/architecture.md.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.db import models
from django.utils import timezone

from engage.lib.crypto import EncryptedJSONField
from engage.models import Brand, Channel, Membership, RoutingQueue, TenantOwned


def _public_id() -> str:
    return str(uuid.uuid4())


class Customer(TenantOwned):
    """A person writing to a brand, known by ``idOnExternalPlatform``."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="customers")
    id_on_external_platform = models.CharField(max_length=200)
    first_name = models.CharField(max_length=120, blank=True)
    last_name = models.CharField(max_length=120, blank=True)
    email = models.EmailField(blank=True)
    image = models.URLField(max_length=500, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    extra = models.JSONField(default=dict, blank=True, help_text="Extra values set by the page API.")
    is_verified = models.BooleanField(default=False, help_text="Identity proven by a signed token.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "id_on_external_platform"], name="customer_unique_external_id")
        ]

    def __str__(self) -> str:
        return self.full_name or self.id_on_external_platform

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Thread(TenantOwned):
    """A conversation of one customer on one channel; public id ``idOnExternalPlatform``."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="threads")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="threads")
    public_id = models.CharField(max_length=200, default=_public_id)
    name = models.CharField(max_length=200, blank=True)
    is_locked = models.BooleanField(default=False)
    is_archived = models.BooleanField(default=False)
    last_sequence = models.PositiveBigIntegerField(default=0)
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["channel", "public_id"], name="thread_unique_public_id")]
        indexes = [models.Index(fields=["customer", "channel", "-created_at"], name="thread_customer_idx")]

    def __str__(self) -> str:
        return self.name or self.public_id


class Contact(TenantOwned):
    """A case: one episode of a thread, from the first message until it is closed."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        ESCALATED = "escalated", "Escalated"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ESCALATED)

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="contacts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    queue = models.ForeignKey(RoutingQueue, on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts")
    assigned_agent = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_contacts"
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    status_updated_at = models.DateTimeField(default=timezone.now)
    assigned_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True, help_text="Entered the queue unassigned.")
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["thread"],
                condition=models.Q(status__in=["new", "open", "pending", "escalated"]),
                name="contact_one_open_per_thread",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "waiting_since"], name="contact_queue_idx"),
            models.Index(fields=["assigned_agent", "status"], name="contact_agent_idx"),
        ]

    def __str__(self) -> str:
        return f"Contact {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Message(TenantOwned):
    """One message of a thread, with a strictly increasing per-thread ``sequence``.

    ``client_id`` is the sender's id (SendMessage ``idOnExternalPlatform`` or a
    BYOC external id); it is unique per thread so a retry finds the original.
    The content is encrypted at rest.
    """

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound (customer to brand)"
        OUTBOUND = "outbound", "Outbound (brand to customer)"

    class Author(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AGENT = "agent", "Agent"
        BOT = "bot", "Bot"
        SYSTEM = "system", "System"

    class ContentType(models.TextChoices):
        TEXT = "TEXT", "Text"
        QUICK_REPLIES = "QUICK_REPLIES", "Quick replies"
        LIST_PICKER = "LIST_PICKER", "List picker"
        RICH_LINK = "RICH_LINK", "Rich link"
        PLUGIN = "PLUGIN", "Plugin"
        ADAPTIVE_CARD = "ADAPTIVE_CARD", "Adaptive card"
        POSTBACK = "POSTBACK", "Postback"

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages")
    sequence = models.PositiveBigIntegerField()
    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    client_id = models.CharField(max_length=200)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    author_type = models.CharField(max_length=8, choices=Author.choices)
    author_agent = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    content_type = models.CharField(max_length=16, choices=ContentType.choices, default=ContentType.TEXT)
    content = EncryptedJSONField(help_text="{text, payload, postback, fallbackText}, encrypted at rest.")
    is_internal = models.BooleanField(default=False, help_text="An internal note the customer never sees.")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True, help_text="Seen by the other side.")

    class Meta:
        ordering = ["thread", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["thread", "sequence"], name="message_unique_sequence"),
            models.UniqueConstraint(fields=["thread", "client_id"], name="message_unique_client_id"),
        ]
        indexes = [models.Index(fields=["public_id"], name="message_public_id_idx")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.content_type} in {self.thread_id}"

    @property
    def text(self) -> str:
        return str(cast(dict[str, Any], self.content or {}).get("text", ""))


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.tenant_id}/{instance.public_id}/{filename}"


class Attachment(TenantOwned):
    """A private file sent in a thread; served only through signed URLs."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.FileField(upload_to=attachment_path, max_length=300)
    file_name = models.CharField(max_length=200)
    mime_type = models.CharField(max_length=120)
    size = models.PositiveBigIntegerField()
    uploaded_by_customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True)
    uploaded_by_agent = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.file_name


class CannedResponse(TenantOwned):
    """A reusable reply agents insert with its shortcut (``/shortcut``) or from a list."""

    title = models.CharField(max_length=120)
    shortcut = models.SlugField(max_length=40, help_text="Typed after a slash in the reply box, e.g. /greeting.")
    text = models.TextField(max_length=4000)
    created_by = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [models.UniqueConstraint(fields=["tenant", "shortcut"], name="canned_response_unique_shortcut")]

    def __str__(self) -> str:
        return f"{self.title} (/{self.shortcut})"
