"""Reads of tenancy data with more than one caller. Every one is tenant-scoped."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from engage.errors import NotFound
from engage.models import Channel, CustomFieldDefinition, Membership, Tenant


def channel_get_public(*, brand_id: int | str, channel_id: str) -> Channel:
    """The channel named by the public ``brandId`` and ``channelId`` pair, or NotFound."""
    try:
        brand_number = int(brand_id)
    except (TypeError, ValueError):
        raise NotFound("Unknown brand or channel.") from None
    try:
        return Channel.objects.select_related("brand", "tenant").get(
            brand__brand_id=brand_number, channel_id=str(channel_id), tenant__is_active=True
        )
    except Channel.DoesNotExist:
        raise NotFound("Unknown brand or channel.") from None


def membership_for(*, user: User | AnonymousUser, tenant: Tenant) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, tenant=tenant).select_related("tenant", "user").first()


def memberships_of(*, user: User | AnonymousUser) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user, tenant__is_active=True).select_related("tenant", "user")


def tenant_ids_administered_by(*, user: User | AnonymousUser) -> list[int]:
    """Tenants whose objects ``user`` may see in Django admin."""
    return list(memberships_of(user=user).filter(role=Membership.Role.ADMIN).values_list("tenant_id", flat=True))


def custom_field_definitions(*, tenant: Tenant, scope: str) -> QuerySet[CustomFieldDefinition]:
    return CustomFieldDefinition.objects.filter(tenant=tenant, scope=scope)
