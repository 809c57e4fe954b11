"""Proactive engagement in Django admin: triggers with ordered conditions and
actions, chat buttons and invitations with a live preview, custom variables.

Scoped to the administrator's tenants like every Parley admin (engage.admin).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from engage.admin import TenantScopedAdmin, administered_tenant_ids
from guide.models import ChatButton, CustomVariable, Invitation, Trigger, TriggerAction, TriggerCondition


class TenantScopedInline(admin.TabularInline):
    """Inline rows take their tenant from the parent; related choices are the admin's tenants'.

    Whoever may administer the parent trigger may edit its rows (the parent's
    tenant scoping decides which triggers that is).
    """

    extra = 0
    exclude = ["tenant"]

    def _may(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        if obj is not None and not user.is_superuser and obj.tenant_id not in administered_tenant_ids(request):
            return False
        return bool(user.is_active and (user.is_superuser or (user.is_staff and administered_tenant_ids(request))))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        queryset = getattr(field, "queryset", None)
        scoped = queryset is not None and hasattr(queryset.model, "tenant_id") and not request.user.is_superuser
        if field is not None and queryset is not None and scoped:
            field.queryset = queryset.filter(tenant_id__in=administered_tenant_ids(request))
        return field


class TriggerConditionInline(TenantScopedInline):
    model = TriggerCondition
    fields = ["order", "fact", "variable", "operator", "value", "ignore_case"]
    verbose_name = "condition (all must hold)"


class TriggerActionInline(TenantScopedInline):
    model = TriggerAction
    fields = ["order", "kind", "button", "invitation", "message"]


@admin.register(Trigger)
class TriggerAdmin(TenantScopedAdmin):
    list_display = ["name", "channel", "order", "is_active", "only_if_agents_available", "once_per_visit", "stop_here"]
    list_editable = ["order", "is_active"]
    list_filter = ["is_active", ("channel", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name"]
    ordering = ["channel", "order", "pk"]
    inlines = [TriggerConditionInline, TriggerActionInline]
    fields = [
        "tenant",
        "channel",
        "name",
        "order",
        "is_active",
        "only_if_agents_available",
        "once_per_visit",
        "stop_here",
    ]


class PreviewMixin:
    """A read-only field that the admin script fills with a live preview of the item."""

    kind = ""

    @admin.display(description="Live preview")
    def preview(self, obj: Any) -> str:
        return format_html('<div class="parley-preview" data-kind="{}" aria-live="polite"></div>', self.kind)

    class Media:
        js = ["guide/admin/preview.js"]
        css = {"all": ["guide/admin/preview.css"]}


@admin.register(ChatButton)
class ChatButtonAdmin(PreviewMixin, TenantScopedAdmin):
    kind = "button"
    list_display = ["name", "tenant", "placement", "position", "online_text", "offline_enabled"]
    list_filter = ["placement", "offline_enabled"]
    search_fields = ["name", "online_text"]
    readonly_fields = ["preview"]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "placement", "position", "container"]}),
        ("Look", {"fields": ["online_text", "background_color", "text_color"]}),
        ("Offline variant (live chat)", {"fields": ["offline_enabled", "offline_text"]}),
        ("Preview", {"fields": ["preview"]}),
    ]


@admin.register(Invitation)
class InvitationAdmin(PreviewMixin, TenantScopedAdmin):
    kind = "invitation"
    list_display = ["name", "tenant", "position", "online_title", "offline_enabled"]
    list_filter = ["position", "offline_enabled"]
    search_fields = ["name", "online_title"]
    readonly_fields = ["preview"]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "position"]}),
        ("Online", {"fields": ["online_title", "online_text", "online_accept", "dismiss_label"]}),
        ("Look", {"fields": ["background_color", "text_color"]}),
        (
            "Offline variant (live chat)",
            {"fields": ["offline_enabled", "offline_title", "offline_text", "offline_accept"]},
        ),
        ("Preview", {"fields": ["preview"]}),
    ]


@admin.register(CustomVariable)
class CustomVariableAdmin(TenantScopedAdmin):
    list_display = ["name", "label", "tenant", "value_type", "source", "key", "show_to_agents"]
    list_filter = ["value_type", "source", "show_to_agents"]
    search_fields = ["name", "label", "key"]
