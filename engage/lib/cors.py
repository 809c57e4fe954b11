"""CORS answers for the public, per-channel endpoints that host pages call.

A channel with an empty allow-list admits any origin (``*``, no credentials);
otherwise only a listed origin gets the header, echoed with ``Vary: Origin``.
"""

from __future__ import annotations

from collections.abc import Iterable

PREFLIGHT_MAX_AGE = 86400


def cors_headers(
    *, allowed_origins: Iterable[str], origin: str | None, methods: str = "GET", preflight: bool = False
) -> dict[str, str]:
    """Headers that let ``origin`` read the answer, or {} when it is not allowed."""
    allowed = {value.rstrip("/") for value in allowed_origins}
    headers: dict[str, str] = {}
    if not allowed:
        headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin.rstrip("/") in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Vary"] = "Origin"
    else:
        return {"Vary": "Origin"}
    if preflight:
        headers["Access-Control-Allow-Methods"] = methods
        headers["Access-Control-Allow-Headers"] = "Content-Type"
        headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return headers
