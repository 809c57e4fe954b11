"""Who is calling: the agent membership behind an API request.

A user with one membership acts in that tenant. A user with several names the
tenant by its slug in the ``X-Parley-Tenant`` header (or ``?tenant=``).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from engage.errors import InvalidInput, PermissionDenied
from engage.models import Membership
from engage.selectors import memberships_of

TENANT_HEADER = "HTTP_X_PARLEY_TENANT"


def agent_for(request: Request | Any) -> Membership:
    """The caller's membership, or PermissionDenied (no membership) / InvalidInput (which tenant?)."""
    cached = getattr(request, "_parley_agent", None)
    if cached is not None:
        return cached
    memberships = memberships_of(user=request.user)
    slug = request.META.get(TENANT_HEADER) or request.GET.get("tenant")
    if slug:
        memberships = memberships.filter(tenant__slug=str(slug))
    found = list(memberships[:2])
    if not found:
        raise PermissionDenied("You are not an agent of this tenant.", code="not_a_member")
    if len(found) > 1:
        raise InvalidInput("Name the tenant in the X-Parley-Tenant header.", code="tenant_required")
    request._parley_agent = found[0]  # type: ignore[union-attr]
    return found[0]
