"""Maps domain errors and DRF errors to JSON bodies: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from engage.errors import ParleyError


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ParleyError):
        return Response(error_body(exc.code, exc.message), status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(detail, dict) and set(detail) == {"detail"}:
        code = getattr(detail["detail"], "code", "error")
        response.data = error_body(str(code), str(detail["detail"]))
    else:
        response.data = error_body("invalid_input", "The input is invalid.", detail)
    if response.status_code == status.HTTP_500_INTERNAL_SERVER_ERROR:  # pragma: no cover
        response.data = error_body("server_error", "Internal error.")
    return response
