"""Django admin for tenancy, and the tenant scoping every Parley admin uses.

A superuser sees everything. Any other staff user sees and edits only the
objects of the tenants where their membership has the *admin* role; related
object choices are limited the same way.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django.conf import settings
from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html

from engage.models import Brand, BusinessUnit, Channel, CustomFieldDefinition, Membership, RoutingQueue, Tenant
from engage.selectors import tenant_ids_administered_by

admin.site.site_header = "Parley administration"
admin.site.site_title = "Parley"
admin.site.index_title = "Configuration"


def administered_tenant_ids(request: HttpRequest) -> list[int]:
    cached = getattr(request, "_parley_admin_tenants", None)
    if cached is None:
        cached = tenant_ids_administered_by(user=request.user)
        request._parley_admin_tenants = cached  # type: ignore[attr-defined]
    return cached


def _scoped(model: type[models.Model], queryset: models.QuerySet, tenant_ids: list[int]) -> models.QuerySet:
    if model is Tenant:
        return queryset.filter(pk__in=tenant_ids)
    if any(field.name == "tenant" for field in model._meta.get_fields()):
        return queryset.filter(tenant_id__in=tenant_ids)
    return queryset


class TenantScopedAdmin(admin.ModelAdmin):
    """Limits rows, object permissions and related choices to the user's tenants."""

    tenant_lookup = "tenant_id"

    def _is_global(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def _may_administer(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff and administered_tenant_ids(request))

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request)
        if self._is_global(request):
            return queryset
        return queryset.filter(**{f"{self.tenant_lookup}__in": administered_tenant_ids(request)})

    def _owns(self, request: HttpRequest, obj: Any) -> bool:
        if obj is None or self._is_global(request):
            return True
        tenant_id = obj.pk if isinstance(obj, Tenant) else getattr(obj, "tenant_id", None)
        return tenant_id in administered_tenant_ids(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_global(request) or self._may_administer(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request) and self._owns(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request) and self._owns(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request) and self._owns(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return self._scoped_field(db_field, super().formfield_for_foreignkey(db_field, request, **kwargs), request)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return self._scoped_field(db_field, super().formfield_for_manytomany(db_field, request, **kwargs), request)

    def _scoped_field(self, db_field: Any, field: Any, request: HttpRequest) -> Any:
        """A relation's form field offering only the administered tenants' objects."""
        if field is not None and not self._is_global(request) and hasattr(field, "queryset"):
            # ForeignKey.formfield and ManyToManyField.formfield always give the field a queryset.
            queryset = cast(models.QuerySet, field.queryset)
            field.queryset = _scoped(db_field.related_model, queryset, administered_tenant_ids(request))
        return field

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if self._is_global(request) and self.tenant_lookup == "tenant_id" and "tenant" not in filters:
            filters.insert(0, "tenant")
        return filters


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_lookup = "pk"
    list_display = ["name", "slug", "time_zone", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._is_global(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_global(request)

    def get_list_filter(self, request: HttpRequest) -> Any:
        return self.list_filter


@admin.register(Brand)
class BrandAdmin(TenantScopedAdmin):
    list_display = ["name", "brand_id", "tenant"]
    search_fields = ["name", "=brand_id"]


@admin.register(BusinessUnit)
class BusinessUnitAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant"]
    search_fields = ["name"]


def sdk_configuration(channel: Channel) -> dict[str, Any]:
    """The CXone Chat Web SDK options that point an unmodified SDK at this Parley."""
    public = settings.PUBLIC_URL
    gateway = public.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/ws/visitor"
    return {
        "brandId": channel.brand.brand_id,
        "channelId": channel.channel_id,
        "environment": "custom",
        "customEnvironment": {"chat": public, "authorize": public, "gateway": gateway, "name": "parley"},
        "isLivechat": channel.is_live_chat,
        "securedSession": None if channel.auth_mode == Channel.AuthMode.NONE else channel.auth_mode,
    }


@admin.register(Channel)
class ChannelAdmin(TenantScopedAdmin):
    list_display = ["name", "channel_id", "brand", "kind", "status", "display", "multi_thread"]
    list_filter = ["kind", "status", "display", "multi_thread", "brand"]
    search_fields = ["name", "channel_id", "brand__name"]
    autocomplete_fields = ["brand"]
    filter_horizontal = ["pre_contact_fields"]
    readonly_fields = ["installation", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["tenant", "brand", "business_unit", "name", "channel_id", "kind", "status"]}),
        ("Widget", {"fields": ["display", "multi_thread", "welcome_message", "theme", "translations"]}),
        ("Security", {"fields": ["allowed_origins", "auth_mode", "identity_secret", "identity_public_key"]}),
        ("Files", {"fields": ["attachments_enabled", "max_file_size_mb", "allowed_file_types"]}),
        ("Timeouts", {"fields": ["idle_timeout_minutes", "auto_close_minutes"]}),
        ("Pre-chat form", {"fields": ["pre_contact_fields"]}),
        ("Installation", {"fields": ["installation", "created_at", "updated_at"]}),
    ]

    @admin.display(description="Install on your website")
    def installation(self, channel: Channel) -> str:
        if not channel.pk:
            return "Save the channel to see its snippet."
        loader = f"{settings.PUBLIC_URL}/loader/{channel.brand.brand_id}/{channel.channel_id}.js"
        snippet = f'<script async src="{loader}"></script>'
        if channel.display == Channel.Display.EMBEDDED:
            # The loader renders an embedded chat in #parley-chat (docs/frontend.md).
            snippet = f'<div id="parley-chat"></div>\n{snippet}'
        sdk = json.dumps(sdk_configuration(channel), indent=2)
        return format_html(
            "<p>Paste this snippet before <code>&lt;/body&gt;</code>:</p><pre>{}</pre>"
            "<p>Or configure the CXone Chat Web SDK with:</p><pre>{}</pre>",
            snippet,
            sdk,
        )


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ["user", "tenant", "role", "presence", "max_concurrent_contacts"]
    list_filter = ["role", "presence"]
    search_fields = ["user__username", "user__email", "nickname"]
    raw_id_fields = ["user"]


@admin.register(RoutingQueue)
class RoutingQueueAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "priority"]
    search_fields = ["name"]
    filter_horizontal = ["channels", "agents"]


@admin.register(CustomFieldDefinition)
class CustomFieldDefinitionAdmin(TenantScopedAdmin):
    list_display = ["ident", "label", "scope", "field_type", "required", "order"]
    list_filter = ["scope", "field_type", "required"]
    search_fields = ["ident", "label"]
