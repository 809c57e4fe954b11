"""Which channel-layer groups each event goes to (``chat.realtime.groups_for``)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from chat import events, realtime

THREAD = {"tenant_id": 1, "thread_id": 10, "channel_id": 20, "customer_id": 30}


def message(**extra):  # type: ignore[no-untyped-def]
    return events.MessageCreated(**THREAD, message_id=5, sequence=1, direction="outbound", author_type="agent", **extra)


def test_every_visible_thread_event_goes_to_the_customer_group_and_the_console():  # type: ignore[no-untyped-def]
    for event in (
        events.ThreadCreated(**THREAD),
        events.ThreadUpdated(**THREAD, changes=("name",)),
        message(),
        events.ContactCreated(**THREAD, contact_id=7),
        events.TypingChanged(**THREAD, is_typing=True, actor="agent", agent_id=3),
    ):
        assert realtime.groups_for(event) == ["tenant.1.console", "customer.30"], event.name


def test_internal_notes_reach_only_the_console():  # type: ignore[no-untyped-def]
    assert realtime.groups_for(message(is_internal=True)) == ["tenant.1.console"]


def test_customer_updates_reach_only_the_console():  # type: ignore[no-untyped-def]
    assert realtime.groups_for(events.CustomerUpdated(tenant_id=1, customer_id=30)) == ["tenant.1.console"]


async def test_from_the_event_loop_local_sockets_have_the_event_when_fan_out_returns(monkeypatch):  # type: ignore[no-untyped-def]
    from engage.layers import InProcessChannelLayer

    layer = InProcessChannelLayer(capacity=10)
    console, customer = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("tenant.1.console", console)
    await layer.group_add("customer.30", customer)
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(realtime, "run_soon", lambda factory: pytest.fail("a task per event"))

    realtime.fan_out(message())

    assert layer.stats()["waiting_messages"] == 2  # delivered before fan_out returned, no task involved
    for channel in (console, customer):
        received = await layer.receive(channel)
        assert received["type"] == "chat.event"
        assert (received["event"]["event"], received["event"]["message_id"]) == ("message.created", 5)


@pytest.mark.redis
async def test_a_failed_publish_from_the_event_loop_is_logged(settings, monkeypatch, caplog):  # type: ignore[no-untyped-def]
    import uuid

    from engage import layers

    layer = layers.RedisFanoutChannelLayer(hosts=[settings.REDIS_URL], prefix=f"test{uuid.uuid4().hex[:12]}")
    other = layers.RedisFanoutChannelLayer(hosts=[settings.REDIS_URL], prefix=layer.prefix)
    try:
        remote = await other.new_channel()
        await other.group_add("customer.30", remote)
        monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
        realtime.fan_out(message())
        received = await asyncio.wait_for(other.receive(remote), 5)  # reached the other process
        assert received["event"]["message_id"] == 5

        def refused(batch):  # type: ignore[no-untyped-def]
            return b"".join(layers._resp(b"NOSUCHCOMMAND") for items, _ in batch for _ in items)  # one per publish

        monkeypatch.setattr(layers._Publisher, "_commands", staticmethod(refused))
        with caplog.at_level(logging.ERROR, logger="engage.layers"):
            realtime.fan_out(message())
            for _ in range(100):
                if caplog.records:
                    break
                await asyncio.sleep(0.01)
        assert [record.getMessage() for record in caplog.records] == [
            "channel layer: publish failed; other processes miss this event"
        ]
    finally:
        await layer.flush()
        await other.flush()
