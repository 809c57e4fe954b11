"""A console socket the channel layer had to drop events for is closed, so the console resyncs."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from chat import services
from chat.models import Message
from engage.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _own_cache(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"console-test-{uuid.uuid4().hex}"}}


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def test_an_overflow_notice_closes_the_console_socket_for_a_resync(acme):
    cookie = await database_sync_to_async(_cookie)(acme.alice.user)
    headers = [(b"host", b"testserver"), (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/console", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "welcome"
    layer = get_channel_layer()
    (channel,) = layer.groups[f"tenant.{acme.tenant.pk}.console"]

    await layer.send(channel, {"type": "layer.overflow", "channel": channel, "dropped": 3, "reason": "capacity"})

    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 1013}


async def test_frames_queued_behind_the_overflow_close_are_left_to_the_client_to_retry(acme):
    thread, _ = await database_sync_to_async(services.thread_get_or_create)(
        channel=acme.messaging, customer=acme.visitor, public_id="overflowing"
    )
    cookie = await database_sync_to_async(_cookie)(acme.alice.user)
    headers = [(b"host", b"testserver"), (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/console", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "welcome"
    layer = get_channel_layer()
    (channel,) = layer.groups[f"tenant.{acme.tenant.pk}.console"]

    await layer.send(channel, {"type": "layer.overflow", "channel": channel, "dropped": 3, "reason": "capacity"})
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 1013}

    # What was still queued for the socket when it closed: a reply and an event.
    send = {"type": "send", "ref": "r1", "thread_id": thread.pk, "client_id": "late-1", "text": "After the close"}
    await communicator.send_json_to(send)
    presence = {"event": "presence.changed", "tenant_id": acme.tenant.pk}
    await layer.send(channel, {"type": "chat.event", "event": presence})
    # A second notice (the mailbox filled again before the close): closing twice would be an ASGI error.
    await layer.send(channel, {"type": "layer.overflow", "channel": channel, "dropped": 1, "reason": "capacity"})

    assert await communicator.receive_nothing(timeout=0.5)
    assert not await database_sync_to_async(Message.objects.filter(client_id="late-1").exists)()
