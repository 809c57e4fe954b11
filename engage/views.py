from __future__ import annotations

import mimetypes

from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.http import FileResponse, HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from engage.lib.storage import name_from_token


@require_GET
def signed_file(request: HttpRequest, token: str) -> FileResponse | JsonResponse:
    """Serve a private file named by a signed, unexpired token."""
    name = name_from_token(token)
    if name is None or not default_storage.exists(name):
        return JsonResponse(
            {"error": {"code": "not_found", "message": "The link is invalid or has expired."}}, status=404
        )
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name.rsplit("/", 1)[-1]}"'
    response["Cache-Control"] = "private, max-age=60"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Readiness: answers 200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "error"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
