"""A console socket the channel layer had to drop events for is closed, so the console resyncs."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from chat import services
from chat.models import Message
from tests.console.helpers import welcomed_console

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("own_cache")]


async def test_an_overflow_notice_closes_the_console_socket_for_a_resync(acme):
    communicator = await welcomed_console(acme.alice.user)
    layer = get_channel_layer()
    (channel,) = layer.groups[f"tenant.{acme.tenant.pk}.console"]

    await layer.send(channel, {"type": "layer.overflow", "channel": channel, "dropped": 3, "reason": "capacity"})

    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 1013}


async def test_frames_queued_behind_the_overflow_close_are_left_to_the_client_to_retry(acme):
    thread, _ = await database_sync_to_async(services.thread_get_or_create)(
        channel=acme.messaging, customer=acme.visitor, public_id="overflowing"
    )
    communicator = await welcomed_console(acme.alice.user)
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


def test_console_channels_get_ten_times_a_visitor_sockets_room_in_every_profile():
    """A console carries every event of its tenant: a second or two of backlog in a busy tenant
    must not close it (CHANNEL_LAYER_CONSOLE_CAPACITY), while a visitor socket keeps the common bound."""
    from engage import settings as parley
    from engage.layers import InProcessChannelLayer

    config = parley.CHANNEL_LAYERS["default"]["CONFIG"]
    assert (config["capacity"], config["channel_capacity"]) == (1000, {"console.*": 10000})
    layer = InProcessChannelLayer(capacity=1000, channel_capacity={"console.*": 10000})
    assert [layer.get_capacity(name) for name in ("console.p!ab12", "specific.p!ab12")] == [10000, 1000]


async def test_a_console_is_not_closed_for_a_backlog_a_visitor_socket_would_overflow_with(acme, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "engage.layers.InProcessChannelLayer",
            "CONFIG": {"capacity": 200, "channel_capacity": {"console.*": 2000}},
        }
    }
    communicator = await welcomed_console(acme.alice.user)
    layer = get_channel_layer()
    (channel,) = layer.groups[f"tenant.{acme.tenant.pk}.console"]
    assert channel.startswith("console.")

    for number in range(1500):  # queued before the socket reads any
        event = {"event": "presence.changed", "tenant_id": acme.tenant.pk, "n": number}
        await layer.send(channel, {"type": "chat.event", "event": event})
    frames = [await communicator.receive_json_from(timeout=5) for _ in range(1500)]

    assert [frame["event"]["n"] for frame in frames] == list(range(1500))  # none dropped, still open
    await communicator.disconnect()
