"""Ingestion through the lean ASGI app mounted in engage.asgi (what production serves)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from analytics.models import Event, PageView, Visit, Visitor
from tests.analytics.conftest import NOW, SENT_AT, body, db_call, events_url, page_view, page_view_url, server_ms

pytestmark = pytest.mark.django_db(transaction=True)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@db_call
def _flush(ingestion) -> int:  # type: ignore[no-untyped-def]
    return ingestion.writer.flush()


@db_call
def _rows(model, **filters):  # type: ignore[no-untyped-def]
    return list(model.objects.filter(**filters).order_by("pk").values())


async def test_a_page_view_is_stored_under_the_channels_tenant_with_corrected_times(http, ingestion, acme) -> None:
    response = await http.post(events_url(), content=body(page_view()), headers={"content-type": "text/plain"})
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    assert response.headers["access-control-allow-origin"] == "*"
    assert await _flush(ingestion) == 1
    [visitor] = await _rows(Visitor)
    assert (visitor["tenant_id"], visitor["public_id"]) == (acme.tenant.pk, "visitor-0001")
    assert visitor["first_seen_at"] == visitor["last_seen_at"] == _at(server_ms(SENT_AT - 500))
    [visit] = await _rows(Visit)
    assert (visit["tenant_id"], visit["visitor_id"], visit["channel_id"], visit["public_id"]) == (
        acme.tenant.pk,
        visitor["id"],
        acme.live.pk,
        "visit-00001",
    )
    [row] = await _rows(PageView)
    assert row == {
        "id": row["id"],
        "tenant_id": acme.tenant.pk,
        "visit_id": visit["id"],
        "public_id": "pv-000001",
        "url": "https://shop.example/pricing",
        "title": "Pricing",
        "referrer": "https://search.example/",
        "viewed_at": _at(server_ms(SENT_AT - 500)),
        "time_on_page_ms": 0,
    }


async def test_events_and_later_page_view_updates_merge_into_one_visit(http, ingestion, acme) -> None:
    first = body(
        page_view(),
        {
            "type": "trigger_activated",
            "at": SENT_AT - 100,
            "name": "12",
            "pageView": "pv-000001",
            "data": {"rule": "3rd page view"},
        },
    )
    assert (await http.post(events_url(), content=first)).status_code == 202
    update = {
        "visitor": "visitor-0001",
        "visit": "visit-00001",
        "sentAt": SENT_AT + 20_000,
        "at": SENT_AT - 500,
        "url": "https://shop.example/pricing",
        "title": "Pricing (SPA)",
        "timeOnPage": 19_500,
    }
    ingestion.clock = lambda: NOW + 20  # both clocks moved on by 20 s
    assert (await http.put(page_view_url("pv-000001"), content=json.dumps(update))).status_code == 202
    ingestion.clock = lambda: NOW + 21
    second = body(page_view("pv-000002", at=SENT_AT + 21_000), sent_at=SENT_AT + 21_000)
    assert (await http.post(events_url(), content=second)).status_code == 202
    assert await _flush(ingestion) == 3  # rows: two page views (the update merged) and one event
    assert len(await _rows(Visitor)) == 1
    [visit] = await _rows(Visit)
    assert visit["started_at"] == _at(server_ms(SENT_AT - 500))
    assert visit["last_seen_at"] == _at(server_ms(SENT_AT + 21_000))
    views = await _rows(PageView)
    assert [(v["public_id"], v["title"], v["time_on_page_ms"]) for v in views] == [
        ("pv-000001", "Pricing (SPA)", 19_500),
        ("pv-000002", "Pricing", 0),
    ]
    [event] = await _rows(Event)
    assert (event["kind"], event["name"], event["page_view_id"], event["data"]) == (
        "trigger_activated",
        "12",
        "pv-000001",
        {"rule": "3rd page view"},
    )
    assert event["occurred_at"] == _at(server_ms(SENT_AT - 100))


async def test_a_page_view_update_before_its_post_still_lands_once(http, ingestion, acme) -> None:
    update = {
        "visitor": "visitor-0001",
        "visit": "visit-00001",
        "sentAt": SENT_AT,
        "at": SENT_AT - 500,
        "url": "https://shop.example/pricing",
        "timeOnPage": 3000,
    }
    assert (await http.put(page_view_url("pv-000001"), content=json.dumps(update))).status_code == 202
    assert await _flush(ingestion) == 1
    assert (await http.post(events_url(), content=body(page_view(timeOnPage=1000)))).status_code == 202
    await _flush(ingestion)
    [row] = await _rows(PageView)
    assert (row["time_on_page_ms"], row["title"]) == (3000, "Pricing")


BAD = [
    (b"not json", "The body is not JSON."),
    (b"[1]", "The body is a JSON object."),
    (
        b'{"visitor": "short", "visit": "visit-00001", "sentAt": 1, "events": []}',
        "visitor: 8 to 64 letters, digits, '-' or '_'.",
    ),
    (body(visit="has space!"), "visit: 8 to 64 letters, digits, '-' or '_'."),
    (b'{"visitor": "visitor-0001", "visit": "visit-00001", "sentAt": "now", "events": []}', "sentAt: a number."),
    (b'{"visitor": "visitor-0001", "visit": "visit-00001", "sentAt": NaN, "events": []}', "The body is not JSON."),
    (body(), "events: a list of 1 to 50 events."),
    (body(*[page_view(f"pv-{i:06d}") for i in range(51)]), "events: a list of 1 to 50 events."),
    (body(page_view(url="javascript:alert(1)")), "events[0].url: an http(s) URL."),
    (body(page_view(url="https://x.example/" + "a" * 2100)), "events[0].url: at most 2048 characters."),
    (body(page_view(url=None)), "events[0].url: required."),
    (body(page_view(title=7)), "events[0].title: a string."),
    (body(page_view(title="x" * 301)), "events[0].title: at most 300 characters."),
    (body(page_view(title="nul\u0000")), "events[0].title: contains characters that cannot be stored."),
    (body(page_view(referrer="ftp://x")), "events[0].referrer: an http(s) URL."),
    (body(page_view(at=SENT_AT + 1)), f"events[0].at: from {SENT_AT - 86_400_000} to {SENT_AT}."),
    (body(page_view(at=SENT_AT - 86_400_001)), f"events[0].at: from {SENT_AT - 86_400_000} to {SENT_AT}."),
    (body(page_view(timeOnPage=-1)), "events[0].timeOnPage: from 0 to 86400000."),
    (body(page_view(timeOnPage=True)), "events[0].timeOnPage: a number."),
    (body(page_view("bad id")), "events[0].id: 8 to 64 letters, digits, '-' or '_'."),
    (body(page_view(), "x"), "events[1]: an object."),
    (
        body({"type": "hacked", "at": SENT_AT}),
        "events[0].type: one of page_view, button_clicked, button_dismissed, button_shown, chat_engaged, chat_shown, "
        "custom, invitation_accepted, invitation_dismissed, invitation_shown, offer_response, trigger_activated, "
        "trigger_executed.",
    ),
    (body({"type": "custom", "at": SENT_AT, "name": "a b"}), "events[0].name: up to 64 letters, digits or '_.:-'."),
    (body({"type": "custom", "at": SENT_AT, "data": [1]}), "events[0].data: an object of at most 20 keys."),
    (body({"type": "custom", "at": SENT_AT, "data": {"k": "v" * 2100}}), "events[0].data: at most 2048 bytes of JSON."),
    (
        body({"type": "custom", "at": SENT_AT, "data": {"k": "\u0000"}}),
        "events[0].data: contains characters that cannot be stored.",
    ),
    (
        b'{"visitor": "visitor-0001", "visit": "visit-00001", "sentAt": 1, "events": [{"type": "custom", "at": 1, '
        b'"data": {"k": "\\ud800"}}]}',
        "events[0].data: contains characters that cannot be stored.",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD, ids=[m for _, m in BAD])
async def test_bad_input_gets_400_with_the_reason_and_stores_nothing(http, ingestion, acme, content, message) -> None:
    response = await http.post(events_url(), content=content)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid_input", "message": message}}
    assert ingestion.writer.pending_rows == 0


async def test_a_bad_page_view_update_gets_400(http, ingestion, acme) -> None:
    response = await http.put(page_view_url("x"), content=json.dumps({"visitor": "visitor-0001"}))
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "id: 8 to 64 letters, digits, '-' or '_'."


async def test_a_body_over_64_kib_gets_413(http, ingestion, acme) -> None:
    response = await http.post(events_url(), content=b"{" + b" " * 70_000 + b"}")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


async def test_wrong_methods_and_unknown_channels(http, ingestion, acme) -> None:
    assert (await http.put(events_url(), content=body(page_view()))).status_code == 405
    assert (await http.post(page_view_url("pv-000001"), content=b"{}")).status_code == 405
    unknown = await http.post(events_url(channel_id="nope"), content=body(page_view()))
    assert unknown.status_code == 404
    assert unknown.json() == {"error": {"code": "not_found", "message": "Unknown brand or channel."}}
    assert ingestion.writer.pending_rows == 0


async def test_no_write_can_land_in_another_tenant(http, ingestion, acme, globex) -> None:
    """Globex's page sends acme's visitor and visit ids: it gets rows of its own; acme's stay untouched."""
    assert (await http.post(events_url(), content=body(page_view()))).status_code == 202
    await _flush(ingestion)
    acme_before = (await _rows(Visitor), await _rows(Visit), await _rows(PageView))
    foreign = body(page_view(title="Globex"), {"type": "custom", "at": SENT_AT, "name": "x"})
    assert (await http.post(events_url(2002, "globex_msg"), content=foreign)).status_code == 202
    update = {
        "visitor": "visitor-0001",
        "visit": "visit-00001",
        "sentAt": SENT_AT,
        "at": SENT_AT - 500,
        "url": "https://globex.example/",
        "title": "Overwrite?",
        "timeOnPage": 9999,
    }
    assert (
        await http.put(page_view_url("pv-000001", 2002, "globex_msg"), content=json.dumps(update))
    ).status_code == 202
    # A channel id is only found together with its own brand: acme's brand with globex's channel is unknown.
    assert (await http.post(events_url(1001, "globex_msg"), content=foreign)).status_code == 404
    await _flush(ingestion)
    assert (
        await _rows(Visitor, tenant_id=acme.tenant.pk),
        await _rows(Visit, tenant_id=acme.tenant.pk),
        await _rows(PageView, tenant_id=acme.tenant.pk),
    ) == acme_before
    assert await _rows(Event, tenant_id=acme.tenant.pk) == []
    [globex_visitor] = await _rows(Visitor, tenant_id=globex.tenant.pk)
    [globex_visit] = await _rows(Visit, tenant_id=globex.tenant.pk)
    assert globex_visit["visitor_id"] == globex_visitor["id"]
    assert globex_visit["channel_id"] == globex.messaging.pk
    [globex_view] = await _rows(PageView, tenant_id=globex.tenant.pk)
    assert (globex_view["visit_id"], globex_view["title"], globex_view["time_on_page_ms"]) == (
        globex_visit["id"],
        "Overwrite?",
        9999,
    )
    assert [e["tenant_id"] for e in await _rows(Event)] == [globex.tenant.pk]


async def test_a_channel_with_allowed_origins_refuses_others(http, ingestion, acme) -> None:
    acme.live.allowed_origins = ["https://shop.acme.example"]
    await db_call(acme.live.save)()
    ok = await http.post(events_url(), content=body(page_view()), headers={"origin": "https://shop.acme.example"})
    assert ok.status_code == 202
    assert ok.headers["access-control-allow-origin"] == "https://shop.acme.example"
    refused = await http.post(events_url(), content=body(page_view()), headers={"origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    preflight = await http.options(page_view_url("pv-000001"), headers={"origin": "https://shop.acme.example"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "PUT, OPTIONS"
    assert preflight.headers["access-control-max-age"] == "86400"
    assert ingestion.writer.pending_rows == 1


async def test_a_burst_from_one_visitor_gets_exactly_its_limit(http, ingestion, acme) -> None:
    ingestion.visitor_limit = 30
    responses = await asyncio.gather(
        *[http.post(events_url(), content=body(page_view(f"pv-{i:06d}"))) for i in range(100)]
    )
    codes = [r.status_code for r in responses]
    assert codes.count(202) == 30
    assert codes.count(429) == 70
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.json() == {"error": {"code": "rate_limited", "message": "Too many requests from this visitor."}}
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert await _flush(ingestion) == 30
    assert len(await _rows(PageView)) == 30
    other = await http.post(events_url(), content=body(page_view(), visitor="visitor-0002"))
    assert other.status_code == 202


async def test_a_burst_from_one_address_gets_exactly_its_limit(http, ingestion, acme) -> None:
    ingestion.ip_limit = 25
    responses = await asyncio.gather(
        *[http.post(events_url(), content=body(page_view(), visitor=f"visitor-{i:04d}")) for i in range(60)]
    )
    codes = [r.status_code for r in responses]
    assert (codes.count(202), codes.count(429)) == (25, 35)
    assert {r.json()["error"]["message"] for r in responses if r.status_code == 429} == {
        "Too many requests from this address."
    }
    assert await _flush(ingestion) == 25


async def test_the_client_address_comes_from_trusted_proxies_only(ingestion) -> None:
    assert ingestion.client_ip("10.0.0.1", "203.0.113.9") == "10.0.0.1"
    ingestion.trusted_proxies = 1
    assert ingestion.client_ip("10.0.0.1", "1.1.1.1, 203.0.113.9") == "203.0.113.9"
    ingestion.trusted_proxies = 2
    assert ingestion.client_ip("10.0.0.1", "1.1.1.1, 203.0.113.9") == "1.1.1.1"


async def test_a_full_queue_answers_503_instead_of_dropping(http, ingestion, acme) -> None:
    ingestion.writer.max_pending_rows = 2
    assert (await http.post(events_url(), content=body(page_view(), page_view("pv-000002")))).status_code == 202
    full = await http.post(events_url(), content=body(page_view("pv-000003")))
    assert full.status_code == 503
    assert full.json()["error"]["code"] == "overloaded"
    assert await _flush(ingestion) == 2


def test_the_django_route_serves_the_same_handler(client, ingestion, acme) -> None:
    response = client.post(events_url(), data=body(page_view()), content_type="text/plain")
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    assert client.post(events_url(), data=b"nope", content_type="text/plain").json() == {
        "error": {"code": "invalid_input", "message": "The body is not JSON."}
    }
    assert ingestion.writer.flush() == 1


async def test_the_lifespan_shutdown_writes_what_was_accepted(http, ingestion, acme) -> None:
    from analytics.ingest import lifespan

    assert (await http.post(events_url(), content=body(page_view(), page_view("pv-000002")))).status_code == 202
    assert await _rows(PageView) == []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[dict] = []

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    await lifespan({"type": "lifespan"}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert [row["public_id"] for row in await _rows(PageView)] == ["pv-000001", "pv-000002"]
