"""HTTP endpoints of the visitor protocol: channel info, availability, attachments, tokens, large events.

Errors are JSON ``{"error": {"code", "message", "errorCode", "errorMessage"}}``:
Parley's shape plus the keys the CXone SDK reads. ``/oauth/token`` also puts
``errorCode``/``errorMessage`` at the top level, where the SDK looks for them.
See docs/visitor-protocol.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from chat import selectors, services
from chat.attachments import AttachmentRefused, file_restrictions
from chat.gateway.large_events import large_event_read
from chat.gateway.protocol import cxone_customer_identity
from chat.gateway.protocol.channel_info import cxone_channel_info
from chat.gateway.sessions import channel_for_visitors, cookie_name, token_exchange
from chat.gateway.uploads import attachment_public_id, upload_token
from engage.errors import InvalidInput, NotFound, ParleyError, PermissionDenied
from engage.lib.storage import signed_url
from engage.models import Channel, CustomFieldDefinition
from engage.selectors import custom_field_definitions

ALLOWED_HEADERS = "content-type, x-caller-service-id, x-sdk-platform, x-sdk-version"
MAX_TOKEN_BODY = 16 * 1024
_LOCALE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")


class OriginRefused(PermissionDenied):
    """This website may not use the chat."""

    code = "origin_refused"


def _error(error: ParleyError, *, top_level: bool = False) -> JsonResponse:
    body: dict[str, Any] = {
        "error": {"code": error.code, "message": error.message, "errorCode": error.code, "errorMessage": error.message}
    }
    if top_level:
        body.update(errorCode=error.code, errorMessage=error.message)
    return JsonResponse(body, status=error.status)


def _cors(origin: str | None, response: HttpResponse, *, credentials: bool) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
        if credentials:
            response["Access-Control-Allow-Credentials"] = "true"
    return response


def _visitor_endpoint(
    methods: set[str], *, credentials: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Looks up the channel, checks the Origin, answers preflights, and maps domain errors."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        def wrapper(
            request: HttpRequest, brand_id: str | None = None, channel_id: str | None = None, **extra: str
        ) -> HttpResponse:
            allowed_origin = None
            try:
                if brand_id is None:  # /oauth/token names the channel in its query
                    brand_id, channel_id = request.GET.get("brandId"), request.GET.get("channelId")
                channel = channel_for_visitors(brand_id=brand_id, channel_id=channel_id)
                if not channel.allows_origin(request.headers.get("Origin")):
                    raise OriginRefused()
                allowed_origin = request.headers.get("Origin")
                if request.method == "OPTIONS":
                    response = HttpResponse(status=204)
                    response["Access-Control-Allow-Methods"] = ", ".join(sorted(methods | {"OPTIONS"}))
                    response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
                    response["Access-Control-Max-Age"] = "600"
                elif request.method not in methods:
                    response = _error(ParleyError("Method not allowed.", code="method_not_allowed"))
                    response.status_code = 405
                else:
                    response = view(request, channel, **extra)
            except ParleyError as error:
                response = _error(error, top_level=credentials)
            return _cors(allowed_origin, response, credentials=credentials)

        wrapper.__name__ = view.__name__
        wrapper.__doc__ = view.__doc__
        return wrapper

    return decorate


def _locale(request: HttpRequest) -> str:
    locale = request.GET.get("locale", "en_US")
    return locale.replace("-", "_") if _LOCALE.match(locale) else "en_US"


@_visitor_endpoint({"GET"})
def channel_info(request: HttpRequest, channel: Channel) -> HttpResponse:
    """``GET /chat/1.0/brand/{brandId}/channel/{channelId}?locale=``: the channel's configuration."""
    body = cxone_channel_info(
        channel,
        locale=_locale(request),
        availability=selectors.channel_availability(channel),
        pre_contact_fields=channel.pre_contact_fields.all(),
        customer_fields=custom_field_definitions(tenant=channel.tenant, scope=CustomFieldDefinition.Scope.CUSTOMER),
        contact_fields=custom_field_definitions(tenant=channel.tenant, scope=CustomFieldDefinition.Scope.CONTACT),
    )
    return JsonResponse(body)


@_visitor_endpoint({"GET"})
def channel_availability(request: HttpRequest, channel: Channel) -> HttpResponse:
    """``GET …/availability``: ``{"status": "online" | "offline"}``."""
    return JsonResponse({"status": selectors.channel_availability(channel)})


def _upload_body(request: HttpRequest, channel: Channel) -> tuple[str, str, bytes]:
    limit = channel.max_file_size_mb * 1024 * 1024 * 4 // 3 + 64 * 1024
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise AttachmentRefused("The file is too large.", restrictions={})
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise AttachmentRefused("The file is too large.", restrictions={})
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise InvalidInput("The body is JSON: {content, fileName, mimeType}.") from None
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        raise InvalidInput("The body is JSON: {content, fileName, mimeType}.")
    try:
        data = base64.b64decode(body["content"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("content is base64.") from None
    file_name, mime_type = body.get("fileName"), body.get("mimeType")
    return (
        file_name if isinstance(file_name, str) else "",
        mime_type if isinstance(mime_type, str) else "",
        data,
    )


@_visitor_endpoint({"POST"})
def attachment_upload(request: HttpRequest, channel: Channel) -> HttpResponse:
    """``POST …/attachment``: stores the file privately; a refusal answers 200 with the restrictions."""
    try:
        file_name, mime_type, data = _upload_body(request, channel)
        attachment = services.attachment_create(channel=channel, file_name=file_name, mime_type=mime_type, data=data)
    except AttachmentRefused:
        restrictions = file_restrictions(channel)
        return JsonResponse(
            {"allowedFileSize": restrictions["allowedFileSize"], "allowedFileTypes": restrictions["allowedFileTypes"]}
        )
    token = upload_token(channel=channel, attachment=attachment)
    path = reverse(
        "gateway-attachment-file",
        kwargs={"brand_id": channel.brand.brand_id, "channel_id": channel.channel_id, "token": token},
    )
    return JsonResponse({"fileUrl": request.build_absolute_uri(path)})


@_visitor_endpoint({"GET"})
def attachment_file(request: HttpRequest, channel: Channel, token: str = "") -> HttpResponse:
    """``GET …/attachment/<token>``: redirects to a short-lived signed URL of the uploaded file."""
    public_id = attachment_public_id(channel=channel, file_url=f"/attachment/{token}")
    attachment = selectors.attachment_of_channel(channel=channel, public_id=public_id) if public_id else None
    if attachment is None:
        raise NotFound("The link is invalid or has expired.")
    return HttpResponseRedirect(signed_url(str(attachment.file.name)))


@_visitor_endpoint({"POST"}, credentials=True)
def oauth_token(request: HttpRequest, channel: Channel) -> HttpResponse:
    """``POST /oauth/token?brandId&channelId&visitorId``: the secured-session token exchange."""
    raw = request.read(MAX_TOKEN_BODY + 1)
    if len(raw) > MAX_TOKEN_BODY:
        raise InvalidInput("The body is too large.")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise InvalidInput("The body is JSON.") from None
    if not isinstance(body, dict):
        raise InvalidInput("The body is a JSON object.")
    grant = token_exchange(channel=channel, body=body, cookie=request.COOKIES.get(cookie_name(channel)))
    answer: dict[str, Any] = {
        "accessToken": grant.access_token,
        "expiresIn": grant.expires_in,
        "customerIdentity": cxone_customer_identity(grant.customer),
        "contact": {"customFields": []},
    }
    if grant.third_party is not None:
        answer["thirdParty"] = grant.third_party
    response = JsonResponse(answer)
    response["Cache-Control"] = "no-store"
    if grant.cookie is not None:
        secure = request.is_secure()
        response.set_cookie(
            cookie_name(channel),
            grant.cookie,
            max_age=365 * 24 * 3600,
            httponly=True,
            secure=secure,
            samesite="None" if secure else "Lax",
        )
    return response


@csrf_exempt
def large_event(request: HttpRequest, token: str) -> HttpResponse:
    """``GET /chat/1.0/event/<token>``: a large server frame, fetched by the SDK without headers."""
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
    elif request.method != "GET":
        response = _error(ParleyError("Method not allowed.", code="method_not_allowed"))
        response.status_code = 405
    else:
        body = large_event_read(token)
        if body is None:
            response = _error(NotFound("The link is invalid or has expired."))
        else:
            response = HttpResponse(body, content_type="application/json")
            response["Cache-Control"] = "private, no-store"
    # The link itself is the credential (signed, short-lived), so any origin may read it.
    response["Access-Control-Allow-Origin"] = "*"
    return response
