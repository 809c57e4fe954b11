from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from analytics import ingest
from analytics.ratelimit import RateLimiter
from analytics.tenancy import ChannelCache
from analytics.writer import BatchWriter

NOW = 1_790_000_000.0  # a fixed server clock (seconds)


@pytest.fixture
def ingestion():  # type: ignore[no-untyped-def]
    """A fresh ingestion for the test: manual flushes, fixed clock, its own rate-limit keys."""
    instance = ingest.Ingestion(
        writer=BatchWriter(background=False),
        limiter=RateLimiter(window=60, sync_interval=3600, prefix=f"test:{uuid.uuid4().hex}", clock=lambda: NOW),
        channels=ChannelCache(ttl=30),
        visitor_limit=1000,
        ip_limit=10_000,
        clock=lambda: NOW,
    )
    ingest.set_default(instance)
    yield instance
    ingest.set_default(None)


@pytest.fixture
async def http(ingestion):  # type: ignore[no-untyped-def]
    from engage.asgi import application

    transport = httpx.ASGITransport(app=application, client=("198.51.100.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def events_url(brand_id: int = 1001, channel_id: str = "chat_live") -> str:
    return f"/analytics/1.0/brand/{brand_id}/channel/{channel_id}/events"


def page_view_url(page_view_id: str, brand_id: int = 1001, channel_id: str = "chat_live") -> str:
    return f"/analytics/1.0/brand/{brand_id}/channel/{channel_id}/page-views/{page_view_id}"


SENT_AT = 1_700_000_000_000  # the browser's clock (ms), 90 000 000 s behind the server


def page_view(page_view_id: str = "pv-000001", *, at: int = SENT_AT - 500, **values: object) -> dict:
    return {
        "type": "page_view",
        "id": page_view_id,
        "at": at,
        "url": "https://shop.example/pricing",
        "title": "Pricing",
        "referrer": "https://search.example/",
        **values,
    }


def body(*events: dict, visitor: str = "visitor-0001", visit: str = "visit-00001", sent_at: int = SENT_AT) -> bytes:
    return json.dumps({"visitor": visitor, "visit": visit, "sentAt": sent_at, "events": list(events)}).encode()


def server_ms(browser_ms: int) -> int:
    return browser_ms + int(NOW * 1000) - SENT_AT


def db_call(function):  # type: ignore[no-untyped-def]
    """Runs a sync database function from an async test, returning its connection to the pool after."""
    from asgiref.sync import sync_to_async
    from django.db import connection

    def run(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    return sync_to_async(run)


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)
