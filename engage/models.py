"""Tenancy: who a business is and how its visitors reach it.

Every tenant-owned row carries ``tenant``; public ids (``brandId``, ``channelId``)
are always looked up together with their tenant or their brand. See
docs/architecture.md.
"""

from __future__ import annotations

import secrets
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

public_id_validator = RegexValidator(r"^[A-Za-z0-9_\-]{1,64}$", "Use 1–64 letters, digits, underscores or hyphens.")


def _validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone {value!r}.")


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


class Tenant(models.Model):
    """A business using Parley. Nothing of one tenant is visible to another."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[_validate_time_zone])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantOwned(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class Brand(TenantOwned):
    """A brand of a tenant; ``brand_id`` is the public integer ``brandId``."""

    brand_id = models.PositiveIntegerField(unique=True, verbose_name="brandId")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["brand_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.brand_id})"


class BusinessUnit(TenantOwned):
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="business_unit_unique_name")]

    def __str__(self) -> str:
        return self.name


def default_file_types() -> list[dict[str, str]]:
    return [
        {"mimeType": "image/*", "description": "images"},
        {"mimeType": "application/pdf", "description": "PDF documents"},
        {"mimeType": "text/plain", "description": "text files"},
    ]


def default_theme() -> dict[str, str]:
    return {
        "themeColor": "#2f5d8a",
        "buttonColor": "#2f5d8a",
        "headerBgColor": "#2f5d8a",
        "headerFontColor": "#ffffff",
        "textColor": "#1f2933",
        "widgetBgColor": "#ffffff",
        "widgetFontColor": "#1f2933",
    }


class Channel(TenantOwned):
    """A way visitors reach a brand: web messaging, live chat or a BYOC channel."""

    class Kind(models.TextChoices):
        MESSAGING = "messaging", "Messaging (asynchronous)"
        LIVE_CHAT = "livechat", "Live chat"
        BYOC = "byoc", "BYOC"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        MAINTENANCE = "maintenance", "Maintenance"
        DISABLED = "disabled", "Disabled"

    class Display(models.TextChoices):
        FLOATING = "floating", "Floating"
        EMBEDDED = "embedded", "Embedded"

    class AuthMode(models.TextChoices):
        NONE = "none", "Unsecured (customer id in the URL)"
        ANONYMOUS = "anonymous", "Secured session: anonymous"
        SECURED_COOKIES = "securedCookies", "Secured session: secured cookies"
        THIRD_PARTY = "thirdParty", "Secured session: third-party OAuth"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="channels")
    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.SET_NULL, null=True, blank=True)
    channel_id = models.CharField(max_length=64, validators=[public_id_validator], verbose_name="channelId")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MESSAGING)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    display = models.CharField(max_length=16, choices=Display.choices, default=Display.FLOATING)
    multi_thread = models.BooleanField(default=False, help_text="Allow several threads per customer.")
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text='Website origins allowed to open the chat, e.g. ["https://shop.example"]. Empty allows any.',
    )
    attachments_enabled = models.BooleanField(default=True)
    max_file_size_mb = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    allowed_file_types = models.JSONField(default=default_file_types, blank=True)
    translations = models.JSONField(default=dict, blank=True, help_text='{"en_US": {"weAreOnline": "…"}, …}')
    theme = models.JSONField(default=default_theme, blank=True)
    idle_timeout_minutes = models.PositiveIntegerField(default=30)
    auto_close_minutes = models.PositiveIntegerField(default=1440)
    welcome_message = models.TextField(blank=True)
    auth_mode = models.CharField(max_length=16, choices=AuthMode.choices, default=AuthMode.ANONYMOUS)
    identity_secret = models.CharField(
        max_length=200, default=_new_secret, help_text="HS256 secret that signs company-managed customer ids."
    )
    identity_public_key = models.TextField(
        blank=True, help_text="Optional PEM public key (RS256/ES256) that verifies company-managed customer ids."
    )
    pre_contact_fields: models.ManyToManyField[CustomFieldDefinition] = models.ManyToManyField(
        "CustomFieldDefinition", blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["brand__brand_id", "channel_id"]
        constraints = [models.UniqueConstraint(fields=["brand", "channel_id"], name="channel_unique_public_id")]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel_id})"

    def clean(self) -> None:
        if self.brand_id and self.tenant_id and self.brand.tenant_id != self.tenant_id:
            raise ValidationError({"brand": "The brand belongs to another tenant."})
        if not isinstance(self.allowed_origins, list) or not all(
            isinstance(origin, str) for origin in self.allowed_origins
        ):
            raise ValidationError({"allowed_origins": "Give a list of origins."})

    @property
    def is_live_chat(self) -> bool:
        return self.kind == self.Kind.LIVE_CHAT

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def allows_origin(self, origin: str | None) -> bool:
        """An empty allow-list admits any origin; a listed origin must match exactly."""
        if not self.allowed_origins or origin is None:
            return True
        return origin.rstrip("/") in {allowed.rstrip("/") for allowed in self.allowed_origins}

    def translations_for(self, locale: str) -> dict[str, Any]:
        language = locale.split("_")[0]
        return {
            **self.translations.get("en", {}),
            **self.translations.get(language, {}),
            **self.translations.get(locale, {}),
        }


class Membership(TenantOwned):
    """A user's place in a tenant: their role, capacity and presence."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Administrator"
        AGENT = "agent", "Agent"

    class Presence(models.TextChoices):
        AVAILABLE = "available", "Available"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.AGENT)
    max_concurrent_contacts = models.PositiveIntegerField(default=3, validators=[MaxValueValidator(100)])
    presence = models.CharField(max_length=12, choices=Presence.choices, default=Presence.OFFLINE)
    presence_changed_at = models.DateTimeField(default=timezone.now)
    nickname = models.CharField(max_length=60, blank=True)
    last_routed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tenant", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant}"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def display_name(self) -> str:
        return self.nickname or self.user.get_full_name() or self.user.get_username()


class ConsoleConnection(TenantOwned):
    """An agent console socket, in whichever process serves it: presence follows the console.

    An agent whose console sockets have all closed, and who opened none again within
    ``PARLEY_CONSOLE_OFFLINE_AFTER`` seconds, goes offline
    (``engage.services.membership_offline_if_unattended``): no contact is routed to a
    closed browser, and visitors are not told an agent is there. Each process touches the
    rows of its open sockets every ``PARLEY_CONSOLE_HEARTBEAT`` seconds; a row left
    untouched for three of them belongs to a process that stopped, and is swept like a
    closed one (``engage.services.console_connections_sweep``).
    """

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="console_connections")
    key = models.CharField(max_length=200, unique=True)  # the socket's channel-layer name
    opened_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["opened_at"]

    def __str__(self) -> str:
        return f"console of membership {self.membership_id} ({'closed' if self.closed_at else 'open'})"


class RoutingQueue(TenantOwned):
    """Contacts of its channels wait here for one of its agents."""

    name = models.CharField(max_length=120)
    channels = models.ManyToManyField(Channel, blank=True, related_name="queues")
    agents = models.ManyToManyField(Membership, blank=True, related_name="queues")
    priority = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="queue_unique_name")]

    def __str__(self) -> str:
        return self.name


class CustomFieldDefinition(TenantOwned):
    """A field agents and visitors fill in, on the customer or on the contact."""

    class Scope(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        CONTACT = "contact", "Contact"

    class FieldType(models.TextChoices):
        TEXT = "text", "Text"
        EMAIL = "email", "E-mail"
        LIST = "list", "List"
        DATE = "date", "Date"

    ident = models.SlugField(max_length=64)
    label = models.CharField(max_length=120)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    field_type = models.CharField(max_length=10, choices=FieldType.choices, default=FieldType.TEXT)
    required = models.BooleanField(default=False)
    is_editable = models.BooleanField(default=True)
    choices = models.JSONField(default=list, blank=True, help_text='For lists: [{"value": "a", "label": "A"}, …]')
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["scope", "order", "ident"]
        constraints = [models.UniqueConstraint(fields=["tenant", "scope", "ident"], name="custom_field_unique_ident")]

    def __str__(self) -> str:
        return f"{self.label} ({self.scope})"

    def clean(self) -> None:
        well_formed = bool(self.choices) and all(isinstance(c, dict) and "value" in c for c in self.choices)
        if self.field_type == self.FieldType.LIST and not well_formed:
            raise ValidationError({"choices": 'A list needs choices like [{"value": "a", "label": "A"}].'})
