"""The ingestion endpoints through Django's URLconf (same handler as the lean ASGI app)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from analytics.ingest import default


@csrf_exempt
async def ingest(request: HttpRequest, **kwargs: str) -> HttpResponse:
    headers = {name.lower(): value for name, value in request.headers.items()}
    answer = await default().handle(
        method=request.method or "GET",
        path=request.path,
        headers=headers,
        body=request.body,
        peer=request.META.get("REMOTE_ADDR"),
    )
    response = HttpResponse(answer.body, status=answer.status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    for name, value in answer.headers:
        response[name] = value
    return response
