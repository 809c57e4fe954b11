"""The channel admin page shows the SDK configuration that points the unmodified SDK at this Parley."""

from __future__ import annotations

import pytest

from engage.admin import sdk_configuration
from engage.models import Channel

pytestmark = pytest.mark.django_db


def test_snippet_matches_the_gateway_urls(acme, settings):  # type: ignore[no-untyped-def]
    settings.PUBLIC_URL = "https://chat.acme.example"
    assert sdk_configuration(acme.live) == {
        "brandId": 1001,
        "channelId": "chat_live",
        "environment": "custom",
        "customEnvironment": {
            "chat": "https://chat.acme.example",
            "authorize": "https://chat.acme.example",
            "gateway": "wss://chat.acme.example/ws/visitor",
            "name": "parley",
        },
        "isLivechat": True,
        "securedSession": "anonymous",
    }
    acme.messaging.auth_mode = Channel.AuthMode.NONE
    assert sdk_configuration(acme.messaging)["securedSession"] is None


def test_admin_page_shows_the_snippet(acme, client):  # type: ignore[no-untyped-def]
    client.force_login(acme.admin.user)
    response = client.get(f"/admin/engage/channel/{acme.live.pk}/change/")
    assert response.status_code == 200
    assert "ws/visitor" in response.content.decode()
    assert "&quot;environment&quot;: &quot;custom&quot;" in response.content.decode()
