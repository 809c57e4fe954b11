"""The per-channel loader script (guide/loader): config inlined, cacheable, silent when off."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from guide.loader.config import contributions, dist_dir, manifest, module_files, widget_preload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _demo_on(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PARLEY_DEMO = True  # tests run with DEBUG off, where the demo shop defaults to off


def _config(body: bytes) -> dict:
    match = re.search(rb"\}\)\((\{.*\})\);\n$", body, re.S)
    assert match, body[-200:]
    return json.loads(match.group(1))


def test_loader_inlines_the_public_channel_configuration(acme, client: Client) -> None:
    response = client.get("/loader/1001/chat_msg.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=60"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response["ETag"])
    assert response.content.startswith(b"(function(PARLEY_CONFIG){")
    config = _config(response.content)
    assert config == {
        "authMode": "anonymous",
        "brandId": 1001,
        "channelId": "chat_msg",
        "display": "floating",
        "isLiveChat": False,
        "modules": module_files(),
        "multiThread": True,
        "preload": widget_preload(),
        "theme": {
            "buttonColor": "#2f5d8a",
            "headerBgColor": "#2f5d8a",
            "headerFontColor": "#ffffff",
            "textColor": "#1f2933",
            "themeColor": "#2f5d8a",
            "widgetBgColor": "#ffffff",
        },
        "translations": {"en": {"weAreOffline": "We'll answer soon", "weAreOnline": "We're online"}},
        **contributions(acme.messaging),
    }
    assert acme.messaging.identity_secret not in response.content.decode()


def test_loader_modules_are_the_built_content_hashed_files(acme, client: Client) -> None:
    files = module_files()

    assert files["session"] == manifest()["session.js"]
    assert files["widget"] == manifest()["widget.js"]
    assert re.fullmatch(r"session\.[A-Z0-9]{8}\.js", files["session"])


def test_the_widget_chunks_to_preload_are_its_static_imports() -> None:
    widget = (dist_dir() / manifest()["widget.js"]).read_text()
    chunks = widget_preload()

    assert chunks == sorted(set(chunks), key=chunks.index)
    for chunk in chunks:
        assert (dist_dir() / chunk).is_file()
        assert f'"./{chunk}"' in widget
    assert not any("upload" in chunk or "emoji" in chunk or "markdown" in chunk for chunk in chunks)


def test_live_chat_loader_keeps_only_button_texts(acme, client: Client) -> None:
    acme.live.translations = {"en": {"weAreOnline": "Chat with us", "title": "Support"}, "de": {"title": "Hilfe"}}
    acme.live.save(update_fields=["translations"])

    config = _config(client.get("/loader/1001/chat_live.js").content)

    assert config["isLiveChat"] is True
    assert config["multiThread"] is False
    assert config["translations"] == {"en": {"weAreOnline": "Chat with us"}}
    assert "preContactFields" not in config
    assert "welcome" not in config


def test_a_matching_etag_answers_304_without_a_body(acme, client: Client) -> None:
    etag = client.get("/loader/1001/chat_msg.js")["ETag"]

    response = client.get("/loader/1001/chat_msg.js", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "public, max-age=60"


def test_an_admin_change_changes_the_loader_on_the_next_load(acme, client: Client) -> None:
    before = client.get("/loader/1001/chat_msg.js")
    acme.messaging.theme = {**acme.messaging.theme, "buttonColor": "#aa0000"}
    acme.messaging.save(update_fields=["theme"])

    after = client.get("/loader/1001/chat_msg.js", HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert _config(after.content)["theme"]["buttonColor"] == "#aa0000"


@pytest.mark.parametrize(("status", "reason"), [("maintenance", "is in maintenance"), ("disabled", "is disabled")])
def test_a_channel_that_is_off_answers_one_console_line(acme, client: Client, status: str, reason: str) -> None:
    acme.messaging.status = status
    acme.messaging.save(update_fields=["status"])

    response = client.get("/loader/1001/chat_msg.js")

    assert response.status_code == 200
    assert response.content.decode() == (
        f'console.info("Parley: channel chat_msg of brand 1001 {reason}; the chat is not shown.");\n'
    )
    assert response["Cache-Control"] == "public, max-age=60"


def test_unknown_channel_answers_404_json(acme, client: Client) -> None:
    response = client.get("/loader/1001/no_such_channel.js")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Unknown brand or channel."}}


def test_globex_brand_cannot_load_an_acme_channel(acme, globex, client: Client) -> None:
    assert client.get("/loader/2002/chat_msg.js").status_code == 404
    assert client.get("/loader/1001/globex_msg.js").status_code == 404
    assert _config(client.get("/loader/2002/globex_msg.js").content)["channelId"] == "globex_msg"


def test_an_inactive_tenant_has_no_loader(acme, client: Client) -> None:
    acme.tenant.is_active = False
    acme.tenant.save(update_fields=["is_active"])

    assert client.get("/loader/1001/chat_msg.js").status_code == 404


def test_loader_bundle_has_no_static_imports() -> None:

    code = (dist_dir() / manifest()["loader.js"]).read_text()

    assert not re.search(r"(^|[;}])\s*import\s*[{*\w\"']", code)
    assert not re.search(r"(^|[;}])\s*export\s", code)


def test_demo_shop_pages_carry_the_acme_snippet(acme, client: Client) -> None:
    for path in ["/demo/", "/demo/products/kettle/", "/demo/help/", "/demo/strict/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert b'<script async src="/loader/1001/chat_msg.js"' in response.content, path
    assert b'<script async src="/loader/1001/chat_live.js"></script>' in client.get("/demo/live/").content
    assert b'data-parley-embed="#help-chat"></script>' in client.get("/demo/help/").content
    assert client.get("/demo/products/nothing/").status_code == 404


def test_strict_demo_page_forbids_inline_script_and_style(acme, client: Client) -> None:
    policy = client.get("/demo/strict/")["Content-Security-Policy"]

    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert b"<style" not in client.get("/demo/strict/").content
    assert b" style=" not in client.get("/demo/strict/").content


def test_demo_shop_is_off_unless_enabled(acme, client: Client, settings) -> None:
    settings.PARLEY_DEMO = False

    assert client.get("/demo/").status_code == 404


def test_admin_snippet_names_the_embedded_container(acme, client: Client, django_user_model) -> None:
    from django.urls import reverse

    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "parley-demo"))
    page = reverse("admin:engage_channel_change", args=[acme.messaging.pk])
    floating = client.get(page).content.decode()
    acme.messaging.display = "embedded"
    acme.messaging.save(update_fields=["display"])
    embedded = client.get(page).content.decode()

    script = "&lt;script async src=&quot;http://127.0.0.1:8000/loader/1001/chat_msg.js&quot;&gt;&lt;/script&gt;"
    assert script in floating
    assert "parley-chat" not in floating
    assert f"&lt;div id=&quot;parley-chat&quot;&gt;&lt;/div&gt;\n{script}" in embedded
    assert _config(client.get("/loader/1001/chat_msg.js").content)["display"] == "embedded"
