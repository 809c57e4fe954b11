"""Conversations in Django admin: read-mostly views for support and audits.

Conversation state changes go through ``chat.services``; admin never edits
messages, and threads and contacts only in ways the services allow.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from chat.models import Attachment, CannedResponse, Contact, Customer, Message, Thread
from engage.admin import TenantScopedAdmin


class ReadOnlyTenantAdmin(TenantScopedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ReadOnlyTenantAdmin):
    list_display = [
        "id_on_external_platform",
        "first_name",
        "last_name",
        "email",
        "brand",
        "is_verified",
        "last_seen_at",
    ]
    list_filter = ["is_verified", "brand"]
    search_fields = ["id_on_external_platform", "first_name", "last_name", "email"]
    date_hierarchy = "last_seen_at"


@admin.register(Thread)
class ThreadAdmin(ReadOnlyTenantAdmin):
    list_display = [
        "public_id",
        "name",
        "channel",
        "customer",
        "is_locked",
        "is_archived",
        "last_sequence",
        "last_message_at",
    ]
    list_filter = ["is_locked", "is_archived", "channel"]
    search_fields = ["public_id", "name", "customer__id_on_external_platform", "customer__email"]
    list_select_related = ["channel", "customer"]


@admin.register(Contact)
class ContactAdmin(ReadOnlyTenantAdmin):
    list_display = ["pk", "thread", "status", "queue", "assigned_agent", "created_at", "status_updated_at"]
    list_filter = ["status", "queue"]
    search_fields = ["=id", "thread__public_id", "thread__customer__email"]
    list_select_related = ["thread", "queue", "assigned_agent__user"]


@admin.register(Message)
class MessageAdmin(ReadOnlyTenantAdmin):
    list_display = ["thread", "sequence", "direction", "author_type", "content_type", "is_internal", "created_at"]
    list_filter = ["direction", "author_type", "content_type", "is_internal"]
    search_fields = ["thread__public_id", "client_id"]
    list_select_related = ["thread"]
    exclude = ["content"]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyTenantAdmin):
    list_display = ["file_name", "mime_type", "size", "channel", "created_at"]
    list_filter = ["mime_type"]
    search_fields = ["file_name"]


@admin.register(CannedResponse)
class CannedResponseAdmin(TenantScopedAdmin):
    """Canned responses are configuration, not conversation state: admins edit them here."""

    list_display = ["title", "shortcut", "tenant", "updated_at"]
    search_fields = ["title", "shortcut", "text"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
