"""A slow view for tests/engage/test_asgi_http.py: what it saw of its request, or that it was cancelled."""

from __future__ import annotations

import asyncio

from django.http import HttpRequest, HttpResponse
from django.urls import path

SEEN: list[str] = []


async def slow(request: HttpRequest) -> HttpResponse:
    try:
        await asyncio.sleep(0.2)
    except asyncio.CancelledError:
        SEEN.append("cancelled")
        raise
    SEEN.append(request.META["PATH_INFO"])
    return HttpResponse("done")


urlpatterns = [path("slow", slow)]
