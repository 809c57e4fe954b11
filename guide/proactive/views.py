"""Public endpoints of proactive engagement (docs/proactive.md):

- ``GET /guide/1.0/brand/{b}/channel/{c}/proactive``: the channel's triggers,
  chat items and custom variables; cacheable (ETag, short max-age).
- ``GET /guide/1.0/brand/{b}/channel/{c}/availability``: the probability to
  execute a trigger marked "only if agents are available".
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from engage.errors import NotFound
from engage.lib.cors import cors_headers
from engage.models import Channel
from engage.selectors import channel_get_public
from guide.proactive.availability import channel_probability
from guide.proactive.config import proactive_config

CONFIG_MAX_AGE = 60
AVAILABILITY_MAX_AGE = 5


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _channel(brand_id: int, channel_id: str) -> Channel | None:
    try:
        channel = channel_get_public(brand_id=brand_id, channel_id=channel_id)
    except NotFound:
        return None
    return channel if channel.is_active else None


def _with_cors(response: HttpResponse, channel: Channel, request: HttpRequest) -> HttpResponse:
    for name, value in cors_headers(
        allowed_origins=channel.allowed_origins, origin=request.headers.get("Origin")
    ).items():
        response[name] = value
    return response


@require_GET
def proactive(request: HttpRequest, brand_id: int, channel_id: str) -> HttpResponse:
    channel = _channel(brand_id, channel_id)
    if channel is None:
        return _error(404, "not_found", "Unknown brand or channel.")
    config = proactive_config(channel)
    etag = f'"{config["version"]}"'
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(json.dumps(config, separators=(",", ":")), content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={CONFIG_MAX_AGE}"
    return _with_cors(response, channel, request)


@require_GET
def availability(request: HttpRequest, brand_id: int, channel_id: str) -> HttpResponse:
    channel = _channel(brand_id, channel_id)
    if channel is None:
        return _error(404, "not_found", "Unknown brand or channel.")
    probability = channel_probability(channel=channel)
    response = JsonResponse({"probability": probability, "online": probability > 0})
    response["Cache-Control"] = f"public, max-age={AVAILABILITY_MAX_AGE}"
    return _with_cors(response, channel, request)
