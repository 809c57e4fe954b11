"""The console pages: a server-rendered shell that the console bundle brings to life.

See docs/console.md and docs/adr/0002-console-front-end.md.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from engage.models import Membership
from engage.selectors import memberships_of


@lru_cache(maxsize=4)
def _manifest(path: str, mtime: float) -> dict[str, str]:
    return json.loads(Path(path).read_text())


def console_assets() -> dict[str, str]:
    """URLs of the built console bundle (static/dist/manifest.json), re-read after a rebuild."""
    path = Path(settings.BASE_DIR) / "static" / "dist" / "manifest.json"
    try:
        files = _manifest(str(path), path.stat().st_mtime)
    except FileNotFoundError:
        files = {}
    base = f"{settings.STATIC_URL}dist/"
    return {kind: base + files[f"console.{kind}"] for kind in ("js", "css") if f"console.{kind}" in files}


def _config(request: HttpRequest, agent: Membership) -> dict[str, Any]:
    scheme = "wss" if request.is_secure() else "ws"
    return {
        "agent": {"id": agent.pk, "name": agent.display_name, "role": agent.role, "presence": agent.presence},
        "tenant": {"id": agent.tenant_id, "slug": agent.tenant.slug, "name": agent.tenant.name},
        "api": "/api/v1",
        "socket": f"{scheme}://{request.get_host()}/ws/console?tenant={agent.tenant.slug}",
    }


@require_GET
@login_required
def console(request: HttpRequest) -> HttpResponse:
    """The console of the user's tenant; with several memberships, ``?tenant=<slug>`` picks one."""
    memberships = list(memberships_of(user=request.user))
    slug = request.GET.get("tenant")
    chosen = [m for m in memberships if m.tenant.slug == slug] if slug else memberships
    if len(chosen) != 1:
        status = 403 if not memberships else 200
        return render(request, "console/choose.html", {"memberships": memberships}, status=status)
    agent = chosen[0]
    return render(
        request,
        "console/app.html",
        {"agent": agent, "config": _config(request, agent), "assets": console_assets()},
    )


def agent_signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Signing out of Parley makes the agent offline everywhere: no contact is routed to them."""
    from engage.services import membership_set_presence

    if user is None:
        return
    for membership in memberships_of(user=user).exclude(presence=Membership.Presence.OFFLINE):
        membership_set_presence(membership=membership, presence=Membership.Presence.OFFLINE)
