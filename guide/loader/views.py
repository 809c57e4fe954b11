"""The per-channel loader script and the demo shop (docs/frontend.md).

``/loader/{brandId}/{channelId}.js`` is the only URL a website embeds. Its body
is the built loader (static/src/loader) wrapped around the channel's inlined
configuration. It is cacheable for a short time and revalidated by ETag, so a
change in admin reaches visitors on their next page loads without any change on
the website. A disabled channel, or one in maintenance, answers one console
line and nothing else.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_GET

from engage.api_errors import error_body
from engage.errors import NotFound
from engage.models import Channel
from engage.selectors import channel_get_public
from guide.loader.config import dist_dir, loader_config, manifest

LOADER_MAX_AGE = 60


def _js_string(value: str) -> str:
    return json.dumps(value)


def loader_source(channel: Channel) -> str:
    """The loader's JavaScript for this channel (what the browser executes)."""
    label = f"channel {channel.channel_id} of brand {channel.brand.brand_id}"
    if channel.kind == Channel.Kind.BYOC:
        return f"console.info({_js_string(f'Parley: {label} is a BYOC channel; there is no web chat.')});\n"
    if channel.status != Channel.Status.ACTIVE:
        reason = "is in maintenance" if channel.status == Channel.Status.MAINTENANCE else "is disabled"
        return f"console.info({_js_string(f'Parley: {label} {reason}; the chat is not shown.')});\n"
    bundle = manifest().get("loader.js")
    if bundle is None:
        return "console.error(\"Parley: the front end is not built (run 'npm run build').\");\n"
    code = (dist_dir() / bundle).read_text().strip()
    config = json.dumps(loader_config(channel), separators=(",", ":"), sort_keys=True)
    return f"(function(PARLEY_CONFIG){{{code}\n}})({config});\n"


@require_GET
def loader(request: HttpRequest, brand_id: str, channel_id: str) -> HttpResponse:
    try:
        channel = channel_get_public(brand_id=brand_id, channel_id=channel_id)
    except NotFound as error:
        return JsonResponse(error_body(error.code, error.message), status=404)
    body = loader_source(channel).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    max_age = int(getattr(settings, "PARLEY_LOADER_MAX_AGE", LOADER_MAX_AGE))
    not_modified = get_conditional_response(request, etag=etag)
    response = not_modified or HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={max_age}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Demo shop ------------------------------------------------------------------

DEMO_BRAND = 1001
PRODUCTS = {
    "kettle": ("Whistling kettle", "19.90", "A stovetop kettle that sings when the water boils."),
    "teapot": ("Stoneware teapot", "34.50", "Keeps four cups warm for an hour."),
    "mugs": ("Set of mugs", "24.00", "Six mugs in six colours."),
}


def _demo_enabled() -> bool:
    return bool(getattr(settings, "PARLEY_DEMO", settings.DEBUG))


def _demo(request: HttpRequest, template: str, *, channel_id: str = "chat_msg", **context: object) -> HttpResponse:
    if not _demo_enabled():
        raise Http404("The demo shop is off (PARLEY_DEMO).")
    try:
        channel = channel_get_public(brand_id=DEMO_BRAND, channel_id=channel_id)
    except NotFound:
        raise Http404("Run `python manage.py seed_demo` to create the demo tenant.") from None
    loader_url = f"/loader/{channel.brand.brand_id}/{channel.channel_id}.js"
    context = {"channel": channel, "loader_url": loader_url, "products": PRODUCTS, **context}
    return render(request, f"demo/{template}", context)


@require_GET
def demo_home(request: HttpRequest) -> HttpResponse:
    return _demo(request, "index.html")


@require_GET
def demo_product(request: HttpRequest, slug: str) -> HttpResponse:
    if slug not in PRODUCTS:
        raise Http404("No such product.")
    name, price, text = PRODUCTS[slug]
    return _demo(request, "product.html", product={"slug": slug, "name": name, "price": price, "text": text})


@require_GET
def demo_pricing(request: HttpRequest) -> HttpResponse:
    """Plans and prices: where the demo's proactive invitation appears after 20 seconds."""
    return _demo(request, "pricing.html")


@require_GET
def demo_help(request: HttpRequest) -> HttpResponse:
    """The messaging chat embedded in the page (data-parley-embed on the snippet)."""
    return _demo(request, "help.html")


@require_GET
def demo_live(request: HttpRequest) -> HttpResponse:
    """The live-chat channel, with its pre-chat form and queue."""
    return _demo(request, "live.html", channel_id="chat_live")


@require_GET
def demo_strict(request: HttpRequest) -> HttpResponse:
    """A page under a strict Content-Security-Policy: no inline script or style anywhere."""
    response = _demo(request, "strict.html")
    host = request.get_host()
    response["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' ws://{host} wss://{host}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return response
