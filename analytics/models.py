"""Web analytics: visitors, visits, page views and events (docs/analytics.md).

Rows are written in batches by ``analytics.writer`` only; every row carries its
tenant, which ingestion takes from the public brandId/channelId pair of the URL,
never from the body. Time columns are indexed with the tenant for range reads
and for the retention cleanup (``manage.py analytics_cleanup``).
"""

from __future__ import annotations

from django.db import models

from engage.models import Channel, Tenant, TenantOwned

# Page views and events are the high-volume tables: their tenant key is kept by the
# writer (it is the tenant of their visit, which has the constraint) and by the ORM's
# cascades rather than by a per-row constraint trigger in PostgreSQL. See docs/analytics.md.


def _unenforced_tenant() -> models.ForeignKey:
    return models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_constraint=False)


class Visitor(TenantOwned):
    """A browser known by its persistent visitor id (per tenant)."""

    public_id = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "public_id"], name="visitor_unique_public_id")]
        indexes = [models.Index(fields=["tenant", "last_seen_at"], name="visitor_tenant_seen_idx")]

    def __str__(self) -> str:
        return self.public_id


class Visit(TenantOwned):
    """A run of page views without an idle gap longer than the channel's idle time."""

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="visits")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["visitor", "public_id"], name="visit_unique_public_id")]
        indexes = [
            models.Index(fields=["tenant", "started_at"], name="visit_tenant_started_idx"),
            models.Index(fields=["tenant", "last_seen_at"], name="visit_tenant_seen_idx"),
        ]

    def __str__(self) -> str:
        return self.public_id


class PageView(TenantOwned):
    """One page view (also a single-page app's history change); its id is the browser's."""

    tenant = _unenforced_tenant()
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="page_views")
    public_id = models.CharField(max_length=64)
    url = models.TextField()
    title = models.TextField(blank=True)
    referrer = models.TextField(blank=True)
    viewed_at = models.DateTimeField()
    time_on_page_ms = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["visit", "public_id"], name="page_view_unique_public_id")]
        indexes = [models.Index(fields=["tenant", "viewed_at"], name="page_view_tenant_time_idx")]

    def __str__(self) -> str:
        return self.url


class Event(TenantOwned):
    """Something that happened during a visit: chat shown or engaged, a trigger, an item, an offer."""

    class Kind(models.TextChoices):
        CHAT_SHOWN = "chat_shown", "Chat shown"
        CHAT_ENGAGED = "chat_engaged", "Chat engaged"
        TRIGGER_ACTIVATED = "trigger_activated", "Trigger activated"
        TRIGGER_EXECUTED = "trigger_executed", "Trigger executed"
        BUTTON_SHOWN = "button_shown", "Button shown"
        BUTTON_CLICKED = "button_clicked", "Button clicked"
        BUTTON_DISMISSED = "button_dismissed", "Button dismissed"
        INVITATION_SHOWN = "invitation_shown", "Invitation shown"
        INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
        INVITATION_DISMISSED = "invitation_dismissed", "Invitation dismissed"
        OFFER_RESPONSE = "offer_response", "Offer response"
        CUSTOM = "custom", "Custom"

    tenant = _unenforced_tenant()
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    name = models.CharField(max_length=64, blank=True, help_text="Trigger, item or offer id; a custom event's name.")
    page_view_id = models.CharField(max_length=64, blank=True, help_text="The browser's id of the page view.")
    occurred_at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "occurred_at"], name="event_tenant_time_idx"),
            models.Index(fields=["tenant", "kind", "occurred_at"], name="event_tenant_kind_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}".strip()
