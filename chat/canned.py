"""Canned responses: the write path of the reusable replies agents insert.

Configuration rather than conversation state, so not in ``chat.services``;
administrators manage them here (API) or in Django admin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from chat.models import CannedResponse
from engage.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from engage.models import Membership

_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _clean(values: Mapping[str, Any], *, partial: bool) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    limits = {"title": 120, "shortcut": 40, "text": 4000}
    for field, limit in limits.items():
        if field not in values:
            if not partial:
                raise InvalidInput(f"{field} is required.")
            continue
        value = values[field]
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"{field} must be a non-empty string.")
        value = value.strip()
        if len(value) > limit:
            raise InvalidInput(f"{field} has at most {limit} characters.")
        cleaned[field] = value
    if "shortcut" in cleaned:
        cleaned["shortcut"] = cleaned["shortcut"].lstrip("/").lower()
        if not _SHORTCUT.match(cleaned["shortcut"]):
            raise InvalidInput("A shortcut has 1 to 40 lower-case letters, digits, hyphens or underscores.")
    return cleaned


def _check_admin(by: Membership) -> None:
    if not by.is_admin:
        raise PermissionDenied("Only administrators manage canned responses.")


def canned_response_get(*, by: Membership, response_id: int | str) -> CannedResponse:
    try:
        return CannedResponse.objects.get(tenant_id=by.tenant_id, pk=int(response_id))
    except (CannedResponse.DoesNotExist, TypeError, ValueError):
        raise NotFound("Unknown canned response.") from None


def canned_response_create(*, by: Membership, values: Mapping[str, Any]) -> CannedResponse:
    """Creates a canned response of the administrator's tenant; shortcuts are unique per tenant."""
    _check_admin(by)
    cleaned = _clean(values, partial=False)
    try:
        with transaction.atomic():
            return CannedResponse.objects.create(tenant_id=by.tenant_id, created_by=by, **cleaned)
    except IntegrityError:
        raise Conflict(f"The shortcut /{cleaned['shortcut']} is taken.", code="shortcut_taken") from None


def canned_response_update(*, by: Membership, response: CannedResponse, values: Mapping[str, Any]) -> CannedResponse:
    _check_admin(by)
    if response.tenant_id != by.tenant_id:
        raise NotFound("Unknown canned response.")
    cleaned = _clean(values, partial=True)
    if not cleaned:
        return response
    for field, value in cleaned.items():
        setattr(response, field, value)
    try:
        with transaction.atomic():
            response.save(update_fields=[*cleaned, "updated_at"])
    except IntegrityError:
        raise Conflict(f"The shortcut /{cleaned['shortcut']} is taken.", code="shortcut_taken") from None
    return response


def canned_response_delete(*, by: Membership, response: CannedResponse) -> None:
    _check_admin(by)
    if response.tenant_id != by.tenant_id:
        raise NotFound("Unknown canned response.")
    response.delete()
