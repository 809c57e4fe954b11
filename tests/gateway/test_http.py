"""The visitor protocol's HTTP endpoints: channel info, availability, attachments, large events."""

from __future__ import annotations

import base64
import json

import pytest

from chat import services
from chat.gateway.large_events import large_event_store, large_events_sweep
from chat.models import Attachment
from engage.models import Membership

pytestmark = pytest.mark.django_db

SDK_HEADERS = {
    "HTTP_X_CALLER_SERVICE_ID": "chat-web-sdk",
    "HTTP_X_SDK_PLATFORM": "web",
    "HTTP_X_SDK_VERSION": "2.2.0",
}


def info_url(cast, channel=None, suffix=""):  # type: ignore[no-untyped-def]
    channel = channel or cast.messaging
    return f"/chat/1.0/brand/{cast.brand.brand_id}/channel/{channel.channel_id}{suffix}"


def test_channel_info_describes_the_channel(client, acme):  # type: ignore[no-untyped-def]
    response = client.get(info_url(acme, acme.live) + "?locale=en_US", **SDK_HEADERS)
    assert response.status_code == 200
    body = response.json()
    assert body["isLiveChat"] is True
    assert body["isAuthorizationEnabled"] is False
    assert body["isSecuredCookieEnabled"] is False
    assert body["securedSession"] == "anonymous"
    assert body["availability"] == {"status": "offline"}
    assert body["translations"] == {
        "weAreOnline": "Chat with us",
        "weAreOffline": "Leave a message",
        "welcomeMessage": "Hi! An agent will be with you shortly.",
    }
    assert body["settings"]["hasMultipleThreadsPerEndUser"] is False
    assert body["settings"]["fileRestrictions"] == {
        "allowedFileSize": "10",
        "allowedFileTypes": acme.live.allowed_file_types,
        "isAttachmentsEnabled": True,
    }
    assert [field["definition"]["ident"] for field in body["preContactForm"]["customFields"]] == [
        "order_number",
        "topic",
    ]
    topic = body["preContactForm"]["customFields"][1]["definition"]
    assert topic["type"] == "list"
    assert [value["value"] for value in topic["values"]] == ["order", "product", "other"]
    assert [field["ident"] for field in body["endUserCustomFields"]] == ["customer_since", "email"]
    assert [field["ident"] for field in body["caseCustomFields"]] == ["order_number", "topic"]
    assert body["colors"]["themeColor"] == "#2f5d8a"


def test_channel_info_of_a_multi_thread_messaging_channel(client, acme):  # type: ignore[no-untyped-def]
    body = client.get(info_url(acme) + "?locale=cs_CZ").json()
    assert body["isLiveChat"] is False
    assert body["settings"]["hasMultipleThreadsPerEndUser"] is True
    assert body["preContactForm"] is None
    assert body["translations"]["weAreOnline"] == "We're online"


def test_channel_info_accepts_a_double_slash_from_a_trailing_slash_base(client, acme):  # type: ignore[no-untyped-def]
    # The test client would read "//chat/…" as a host; a real server passes the path on.
    response = client.request(PATH_INFO="/" + info_url(acme), REQUEST_METHOD="GET", QUERY_STRING="")
    assert response.status_code == 200
    assert response.json()["channelId"] == "chat_msg"


def test_unknown_channel_and_foreign_brand_answer_404(client, acme, globex):  # type: ignore[no-untyped-def]
    for url in (
        f"/chat/1.0/brand/{acme.brand.brand_id}/channel/globex_msg",
        f"/chat/1.0/brand/{globex.brand.brand_id}/channel/chat_msg",
        "/chat/1.0/brand/not-a-number/channel/chat_msg",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
        assert response.json()["error"]["errorCode"] == "not_found"


def test_disallowed_origin_is_refused_and_allowed_origin_gets_cors(client, acme):  # type: ignore[no-untyped-def]
    acme.messaging.allowed_origins = ["https://shop.acme.example"]
    acme.messaging.save()
    refused = client.get(info_url(acme), HTTP_ORIGIN="https://evil.example")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_refused"
    assert "Access-Control-Allow-Origin" not in refused
    allowed = client.get(info_url(acme), HTTP_ORIGIN="https://shop.acme.example")
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.acme.example"
    preflight = client.options(info_url(acme, suffix="/attachment"), HTTP_ORIGIN="https://shop.acme.example")
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Methods"] == "OPTIONS, POST"
    assert preflight["Access-Control-Allow-Headers"] == (
        "content-type, x-caller-service-id, x-sdk-platform, x-sdk-version"
    )


def test_availability_follows_presence_and_capacity(client, acme):  # type: ignore[no-untyped-def]
    url = info_url(acme, acme.live, "/availability")
    assert client.get(url).json() == {"status": "offline"}
    Membership.objects.filter(pk=acme.alice.pk).update(presence="available", max_concurrent_contacts=1)
    assert client.get(url).json() == {"status": "online"}
    thread, _ = services.thread_get_or_create(channel=acme.live, customer=acme.visitor, public_id="t-1")
    message = services.message_create(thread=thread, author_type="customer", content={"text": "hi"}).message
    services.contact_assign(contact=message.contact, agent=acme.alice)
    assert client.get(url).json() == {"status": "offline"}
    services.contact_set_status(contact=message.contact, status="closed")
    assert client.get(url).json() == {"status": "online"}


def test_availability_ignores_agents_of_other_queues_and_tenants(client, acme, globex):  # type: ignore[no-untyped-def]
    Membership.objects.filter(pk=globex.admin.pk).update(presence="available")
    acme.queue.agents.remove(acme.alice)
    Membership.objects.filter(pk=acme.alice.pk).update(presence="available")
    assert client.get(info_url(acme, acme.live, "/availability")).json() == {"status": "offline"}
    assert client.get(info_url(globex, globex.messaging, "/availability")).json() == {"status": "online"}


def _upload(client, cast, content: bytes, name="note.txt", mime="text/plain", channel=None):  # type: ignore[no-untyped-def]
    body = {"content": base64.b64encode(content).decode(), "fileName": name, "mimeType": mime}
    return client.post(info_url(cast, channel, "/attachment"), data=json.dumps(body), content_type="application/json")


def test_attachment_upload_stores_privately_and_returns_a_file_url(client, acme):  # type: ignore[no-untyped-def]
    response = _upload(client, acme, b"hello file")
    assert response.status_code == 200
    file_url = response.json()["fileUrl"]
    assert file_url.startswith("http://testserver/chat/1.0/brand/1001/channel/chat_msg/attachment/")
    attachment = Attachment.objects.get()
    assert (attachment.tenant_id, attachment.channel_id) == (acme.tenant.pk, acme.messaging.pk)
    assert (attachment.file_name, attachment.mime_type, attachment.size) == ("note.txt", "text/plain", 10)
    assert attachment.message is None
    redirect = client.get(file_url.removeprefix("http://testserver"))
    assert redirect.status_code == 302
    download = client.get(redirect["Location"].removeprefix("http://127.0.0.1:8000"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"hello file"


def test_attachment_refusals_answer_200_with_the_restrictions(client, acme):  # type: ignore[no-untyped-def]
    acme.messaging.max_file_size_mb = 1
    acme.messaging.save()
    expected = {"allowedFileSize": "1", "allowedFileTypes": acme.messaging.allowed_file_types}
    too_big = _upload(client, acme, b"x" * (1024 * 1024 + 1))
    assert (too_big.status_code, too_big.json()) == (200, expected)
    wrong_type = _upload(client, acme, b"MZ...", name="tool.exe", mime="application/x-msdownload")
    assert (wrong_type.status_code, wrong_type.json()) == (200, expected)
    html = _upload(client, acme, b"<script>", name="page.html", mime="text/html")
    assert html.json() == expected
    assert Attachment.objects.count() == 0


def test_attachment_with_malformed_body_is_a_400(client, acme):  # type: ignore[no-untyped-def]
    url = info_url(acme, suffix="/attachment")
    for body in ("not json", json.dumps([1]), json.dumps({"content": "%%%", "fileName": "a.txt"})):
        response = client.post(url, data=body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_input"
    assert Attachment.objects.count() == 0


def test_attachment_link_of_one_channel_does_not_open_on_another(client, acme):  # type: ignore[no-untyped-def]
    file_url = _upload(client, acme, b"secret").json()["fileUrl"]
    token = file_url.rsplit("/", 1)[1]
    other = client.get(info_url(acme, acme.live, f"/attachment/{token}"))
    assert other.status_code == 404


def test_large_event_link_serves_the_frame_then_expires(client, settings, acme):  # type: ignore[no-untyped-def]
    url = large_event_store('{"eventId":"e-1"}', base_url="http://testserver")
    path = url.removeprefix("http://testserver")
    assert path.startswith("/chat/1.0/event/")
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"eventId": "e-1"}
    assert response["Access-Control-Allow-Origin"] == "*"
    assert client.get(path[:-3] + "xyz").status_code == 404
    settings.SIGNED_URL_TTL = -1
    assert client.get(path).status_code == 404


def test_large_event_sweep_keeps_fresh_events(acme):  # type: ignore[no-untyped-def]
    large_event_store("{}", base_url="http://testserver")
    assert large_events_sweep() == 0


def test_token_bodies_are_bounded(client, acme):  # type: ignore[no-untyped-def]
    body = json.dumps({"customerIdentity": {"idOnExternalPlatform": "x"}, "pad": "y" * 20000})
    url = "/oauth/token?brandId=1001&channelId=chat_msg&visitorId="
    response = client.post(url, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errorCode"] == "invalid_input"


def test_access_logs_never_show_visitor_tokens():
    import logging

    from chat.gateway.log_filters import RedactVisitorTokens

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" %s',
        ("127.0.0.1:5", "/ws/visitor?brandId=1001&transactionToken=eyJ.abc:sig&visitorId=", "[accepted]"),
        None,
    )
    RedactVisitorTokens().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5 - "WebSocket /ws/visitor?brandId=1001&transactionToken=[redacted]&visitorId=" [accepted]'
    )
