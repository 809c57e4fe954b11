"""The ingestion endpoints: the hottest path of Parley (docs/analytics.md).

    POST /analytics/1.0/brand/{brandId}/channel/{channelId}/events
    PUT  /analytics/1.0/brand/{brandId}/channel/{channelId}/page-views/{pageViewId}

Served by a lean ASGI app mounted in front of Django (``engage/asgi.py``); the
same handler also answers through Django's URLconf (``analytics.views``) for
servers and clients that go through Django. Per request it does no database
work: the tenant comes from a per-process cache of brandId + channelId, rate
limits count locally and sync through the cache, and the validated rows go to
the per-process batch writer. It answers 202 once the rows are queued.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from analytics.conf import setting
from analytics.ratelimit import RateLimiter
from analytics.tenancy import ChannelCache
from analytics.validation import MAX_BODY_BYTES, Invalid, batch_from_events, batch_from_page_view, parse_json
from analytics.writer import BatchWriter
from engage.lib.cors import cors_headers

PREFIX = "/analytics/1.0/"
_ROUTE = re.compile(
    r"^/analytics/1\.0/brand/(?P<brand>[0-9]{1,10})/channel/(?P<channel>[A-Za-z0-9_-]{1,64})/"
    r"(?:(?P<events>events)|page-views/(?P<page_view>[^/]{1,100}))$"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Answer:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Answer(status, body, tuple((headers or {}).items()))


class Ingestion:
    """Validates, authorises, rate-limits and queues one ingestion request."""

    def __init__(
        self,
        *,
        writer: BatchWriter,
        limiter: RateLimiter,
        channels: ChannelCache,
        visitor_limit: int,
        ip_limit: int,
        trusted_proxies: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.writer = writer
        self.limiter = limiter
        self.channels = channels
        self.visitor_limit = visitor_limit
        self.ip_limit = ip_limit
        self.trusted_proxies = trusted_proxies
        self.clock = clock

    def _retry(self, cors: dict[str, str]) -> dict[str, str]:
        return {**cors, "Retry-After": str(self.limiter.retry_after())}

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str:
        if self.trusted_proxies and forwarded_for:
            hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
            if len(hops) >= self.trusted_proxies:
                return hops[-self.trusted_proxies]
        return peer or "unknown"

    async def handle(
        self, *, method: str, path: str, headers: Mapping[str, str], body: bytes, peer: str | None
    ) -> Answer:
        """``headers`` have lower-case names. Never raises on client input."""
        route = _ROUTE.match(path)
        if route is None:
            return _error(404, "not_found", "No such analytics endpoint.")
        is_events = route["events"] is not None
        allowed_method = "POST" if is_events else "PUT"
        channel = await self.channels.resolve(int(route["brand"]), route["channel"])
        if channel is None:
            return _error(404, "not_found", "Unknown brand or channel.")
        origin = headers.get("origin")
        if not channel.allows(origin):
            return _error(403, "origin_not_allowed", "This origin may not send analytics for this channel.")
        cors = cors_headers(
            allowed_origins=channel.allowed_origins,
            origin=origin,
            methods=f"{allowed_method}, OPTIONS",
            preflight=method == "OPTIONS",
        )
        if method == "OPTIONS":
            return Answer(204, b"", tuple(cors.items()))
        if method != allowed_method:
            return _error(405, "method_not_allowed", f"Use {allowed_method}.", {**cors, "Allow": allowed_method})
        ip = self.client_ip(peer, headers.get("x-forwarded-for"))
        if not self.limiter.hit("ip", ip, self.ip_limit):
            return _error(429, "rate_limited", "Too many requests from this address.", self._retry(cors))
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "too_large", f"The body is larger than {MAX_BODY_BYTES} bytes.", cors)
        now_ms = int(self.clock() * 1000)
        try:
            payload = parse_json(body)
            if is_events:
                batch = batch_from_events(payload, now_ms=now_ms)
            else:
                batch = batch_from_page_view(payload, public_id=route["page_view"], now_ms=now_ms)
        except Invalid as error:
            return _error(400, "invalid_input", error.message, cors)
        if not self.limiter.hit(f"visitor:{channel.tenant_id}", batch.visitor, self.visitor_limit):
            return _error(429, "rate_limited", "Too many requests from this visitor.", self._retry(cors))
        if not self.writer.submit(channel.tenant_id, channel.channel_pk, batch):
            return _error(503, "overloaded", "Analytics are being written; try again shortly.", self._retry(cors))
        return Answer(202, b'{"accepted":%d}' % batch.size, tuple(cors.items()))


_default: Ingestion | None = None


def default() -> Ingestion:
    """The process's ingestion, configured from settings (docs/analytics.md, "Settings")."""
    global _default
    if _default is None:
        _default = Ingestion(
            writer=BatchWriter(interval=min(1.0, setting("ANALYTICS_FLUSH_INTERVAL"))),
            limiter=RateLimiter(window=60),
            channels=ChannelCache(ttl=setting("ANALYTICS_CHANNEL_CACHE_SECONDS")),
            visitor_limit=int(setting("ANALYTICS_RATE_LIMIT_VISITOR")),
            ip_limit=int(setting("ANALYTICS_RATE_LIMIT_IP")),
            trusted_proxies=int(setting("ANALYTICS_TRUSTED_PROXIES")),
        )
    return _default


def set_default(ingestion: Ingestion | None) -> None:
    global _default
    _default = ingestion


# --- the lean ASGI app -------------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks) if size <= limit else b"\0" * (limit + 1)


async def asgi_ingest(scope: Scope, receive: Receive, send: Send) -> None:
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
    body = await _read_body(receive, MAX_BODY_BYTES)
    if body is None:
        return
    client = scope.get("client")
    answer = await default().handle(
        method=scope["method"], path=scope["path"], headers=headers, body=body, peer=client[0] if client else None
    )
    response_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(answer.body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    response_headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    await send({"type": "http.response.start", "status": answer.status, "headers": response_headers})
    await send({"type": "http.response.body", "body": answer.body})


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    """ASGI lifespan: a clean shutdown writes every accepted batch before the process exits."""
    import asyncio

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _default is not None:
                await asyncio.get_running_loop().run_in_executor(None, _shutdown, _default)
            await send({"type": "lifespan.shutdown.complete"})
            return


def _shutdown(ingestion: Ingestion) -> None:
    from django.db import connection

    try:
        ingestion.writer.close()
        ingestion.limiter.stop()
    finally:
        connection.close()  # this executor thread's connection, back to the pool


def mount(fallback: ASGIApp) -> ASGIApp:
    """Routes /analytics/1.0/… to the lean app and everything else to ``fallback`` (Django)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await asgi_ingest(scope, receive, send)
        else:
            await fallback(scope, receive, send)

    return app
