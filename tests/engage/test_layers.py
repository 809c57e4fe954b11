"""engage.layers.InProcessChannelLayer: the embedded profile's channel layer."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from engage.layers import OVERFLOW_TYPE, InProcessChannelLayer, RedisFanoutChannelLayer

LAYER = {"default": {"BACKEND": "engage.layers.InProcessChannelLayer", "CONFIG": {"capacity": 5}}}


@pytest.fixture
def layer() -> InProcessChannelLayer:
    return InProcessChannelLayer(capacity=3, expiry=60)


async def recv(layer: InProcessChannelLayer, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout=5)


class _NoFullScan(dict):
    """A dict that fails the test when someone walks all of it."""

    def _refuse(self, *args, **kwargs):
        raise AssertionError("the layer walked every channel")

    __iter__ = values = items = keys = _refuse  # type: ignore[assignment]


async def test_send_then_receive_returns_an_equal_independent_copy(layer):
    channel = await layer.new_channel()
    sent = {"type": "chat.event", "event": {"id": 1, "tags": ["a"]}}
    await layer.send(channel, sent)
    sent["event"]["tags"].append("changed later")

    assert await recv(layer, channel) == {"type": "chat.event", "event": {"id": 1, "tags": ["a"]}}


async def test_group_send_reaches_members_only_who_share_one_decoded_copy(layer):
    first, second, outsider = [await layer.new_channel() for _ in range(3)]
    await layer.group_add("thread.7.customer", first)
    await layer.group_add("thread.7.customer", second)
    await layer.group_add("thread.8.customer", outsider)

    sent = {"type": "chat.event", "n": (1,)}
    await layer.group_send("thread.7.customer", sent)
    sent["n"] = "changed later"

    got_first = await recv(layer, first)
    assert got_first == {"type": "chat.event", "n": [1]}  # as Redis carries it: a copy, lists for tuples
    assert await recv(layer, second) is got_first  # decoded once for the process; receivers only read
    assert layer.stats()["delivered"] == 2
    assert layer.core.mailboxes[outsider].items == type(layer.core.mailboxes[outsider].items)()


async def test_a_message_for_several_groups_is_decoded_once_for_the_members_of_all(layer):
    console, visitor = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("tenant.1.console", console)
    await layer.group_add("customer.9", visitor)

    await layer.group_send_many(["tenant.1.console", "customer.9"], {"type": "chat.event", "n": (1,)})

    got = await recv(layer, console)
    assert got == {"type": "chat.event", "n": [1]}
    assert await recv(layer, visitor) is got
    assert layer.stats()["delivered"] == 2


async def test_a_handed_over_message_reaches_the_members_as_the_senders_own_dict(layer, monkeypatch):
    console, visitor = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("tenant.1.console", console)
    await layer.group_add("customer.9", visitor)
    decoded = []
    monkeypatch.setattr("engage.layers._decode", lambda payload: decoded.append(payload))
    sent = {"type": "chat.event", "n": (1,)}

    layer.group_send_soon(["tenant.1.console", "customer.9"], sent, handover=True)

    assert await recv(layer, console) is sent
    assert await recv(layer, visitor) is sent
    assert decoded == []


async def test_a_handed_over_message_must_still_be_one_the_wire_carries(layer):
    channel = await layer.new_channel()
    await layer.group_add("tenant.1.console", channel)

    with pytest.raises(TypeError):
        layer.group_send_soon(["tenant.1.console"], {"type": "chat.event", "at": object()}, handover=True)
    assert layer.stats()["delivered"] == 0


async def test_group_discard_stops_delivery_and_forgets_empty_groups_and_mailboxes(layer):
    channel = await layer.new_channel()
    await layer.group_add("tenant.1.console", channel)
    await layer.group_discard("tenant.1.console", channel)
    await layer.group_send("tenant.1.console", {"type": "chat.event"})

    assert layer.stats()["delivered"] == 0
    assert layer.core.groups == {}
    assert layer.core.mailboxes == {}


async def test_no_operation_walks_every_channel(layer):
    channels = [await layer.new_channel() for _ in range(50)]
    for index, channel in enumerate(channels):
        await layer.group_add(f"thread.{index}.customer", channel)
        await layer.group_add("tenant.1.console", channel)
    layer.core.mailboxes = _NoFullScan(layer.core.mailboxes)
    layer.core.groups = _NoFullScan(layer.core.groups)

    await layer.group_send("thread.3.customer", {"type": "chat.event", "n": 1})
    await layer.send(channels[4], {"type": "direct"})
    assert await recv(layer, channels[3]) == {"type": "chat.event", "n": 1}
    assert await recv(layer, channels[4]) == {"type": "direct"}
    await layer.group_discard("thread.5.customer", channels[5])
    await layer.group_add("thread.5.customer", channels[6])

    waiter = asyncio.ensure_future(layer.receive(channels[7]))
    await asyncio.sleep(0)
    await layer.group_send("thread.7.customer", {"type": "chat.event", "n": 7})
    assert await waiter == {"type": "chat.event", "n": 7}


async def test_send_to_a_full_channel_raises_channel_full(layer):
    channel = await layer.new_channel()
    for n in range(3):
        await layer.send(channel, {"type": "m", "n": n})

    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "m", "n": 3})
    assert [await recv(layer, channel) for _ in range(3)] == [{"type": "m", "n": n} for n in range(3)]
    assert layer.stats()["full_sends"] == 1


async def test_group_overflow_leaves_one_resync_notice_in_place_of_the_lost_messages(layer, caplog):
    slow, fast = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("thread.1.customer", slow)
    await layer.group_add("thread.1.customer", fast)

    with caplog.at_level(logging.WARNING, logger="engage.layers"):
        for n in range(6):
            await layer.group_send("thread.1.customer", {"type": "chat.event", "n": n})
            assert await recv(layer, fast) == {"type": "chat.event", "n": n}

    assert [await recv(layer, slow) for _ in range(4)] == [
        {"type": "chat.event", "n": 0},
        {"type": "chat.event", "n": 1},
        {"type": "chat.event", "n": 2},
        {"type": OVERFLOW_TYPE, "channel": slow, "dropped": 3, "reason": "capacity"},
    ]
    assert [record.getMessage() for record in caplog.records] == [
        f"channel layer: {slow} is full (3 waiting); dropping group messages for it until it reads, "
        "it will be told to resync"
    ]
    assert layer.stats()["overflow_dropped"] == 3
    assert layer.stats()["overflow_episodes"] == 1

    await layer.group_send("thread.1.customer", {"type": "chat.event", "n": 6})
    assert await recv(layer, slow) == {"type": "chat.event", "n": 6}


async def test_a_second_overflow_after_reading_is_a_second_notice(layer):
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    for n in range(4):
        await layer.group_send("g", {"type": "m", "n": n})
    assert await recv(layer, channel) == {"type": "m", "n": 0}
    for n in range(4, 6):
        await layer.group_send("g", {"type": "m", "n": n})

    received = [await recv(layer, channel) for _ in range(5)]
    assert received == [
        {"type": "m", "n": 1},
        {"type": "m", "n": 2},
        {"type": OVERFLOW_TYPE, "channel": channel, "dropped": 1, "reason": "capacity"},
        {"type": "m", "n": 4},
        {"type": OVERFLOW_TYPE, "channel": channel, "dropped": 1, "reason": "capacity"},
    ]


async def test_a_channel_nobody_reads_is_evicted_and_told_so_if_it_comes_back(layer, caplog):
    dead, alive = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("thread.1.customer", dead)
    await layer.group_add("thread.1.customer", alive)
    await layer.group_send("thread.1.customer", {"type": "m"})
    assert await recv(layer, alive) == {"type": "m"}
    waiting_alive = asyncio.ensure_future(layer.receive(alive))
    await asyncio.sleep(0)
    now = layer.core.mailboxes[dead].last_active

    assert layer.core.sweep(now + 59) == []
    with caplog.at_level(logging.WARNING, logger="engage.layers"):
        assert layer.core.sweep(now + 61) == [dead]

    assert layer.core.groups == {"thread.1.customer": {alive}}
    assert dead not in layer.core.mailboxes
    assert "evicted" in caplog.records[0].getMessage()
    assert await recv(layer, dead) == {"type": OVERFLOW_TYPE, "channel": dead, "dropped": None, "reason": "evicted"}
    assert layer.stats()["evicted_channels"] == 1
    assert layer.stats()["evicted_messages"] == 1
    waiting_alive.cancel()


async def test_a_waiting_receiver_is_never_evicted(layer):
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    waiter = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    assert layer.core.sweep(layer.core.mailboxes[channel].last_active + 3600) == []
    await layer.group_send("g", {"type": "m"})
    assert await waiter == {"type": "m"}


async def test_a_woken_receiver_is_not_evicted_before_it_runs_and_leaves_nothing_behind(layer):
    channel = await layer.new_channel()
    waiter = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.send(channel, {"type": "m"})  # its future is resolved; the task has not run yet

    assert layer.core.sweep(layer.core.mailboxes[channel].last_active + 3600) == []
    assert await waiter == {"type": "m"}
    assert layer.core.mailboxes == {}

    cancelled = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert layer.core.mailboxes == {}


async def test_a_cancelled_receive_loses_no_message(layer):
    channel = await layer.new_channel()
    waiter = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.send(channel, {"type": "m", "n": 1})
    waiter.cancel()  # woken but cancelled before it ran
    with pytest.raises(asyncio.CancelledError):
        await waiter

    assert await recv(layer, channel) == {"type": "m", "n": 1}


async def test_several_receivers_of_one_channel_each_get_one_message(layer):
    channel = await layer.new_channel()
    waiters = [asyncio.ensure_future(layer.receive(channel)) for _ in range(3)]
    await asyncio.sleep(0)
    for n in range(3):
        await layer.send(channel, {"type": "m", "n": n})

    results = await asyncio.gather(*waiters)
    assert sorted(result["n"] for result in results) == [0, 1, 2]
    assert layer.core.mailboxes == {}


async def test_a_send_from_another_thread_and_loop_wakes_the_receiver(layer):
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    waiter = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)

    thread = threading.Thread(target=lambda: asyncio.run(layer.group_send("g", {"type": "from.thread"})))
    thread.start()
    thread.join()

    assert await asyncio.wait_for(waiter, timeout=10) == {"type": "from.thread"}


async def test_a_message_that_redis_could_not_carry_is_refused_here_too(layer):
    channel = await layer.new_channel()
    with pytest.raises(TypeError):
        await layer.send(channel, {"type": "m", "when": object()})
    with pytest.raises(TypeError):
        await layer.send(channel, ["not", "a", "dict"])  # type: ignore[arg-type]


async def test_invalid_names_are_refused(layer):
    with pytest.raises(TypeError):
        await layer.group_add("bad group!", await layer.new_channel())
    with pytest.raises(TypeError):
        await layer.send("bad channel name with spaces", {"type": "m"})


async def test_receive_refuses_an_invalid_name_and_skips_the_check_for_a_known_mailbox(layer, monkeypatch):
    with pytest.raises(TypeError):
        await layer.receive("bad channel name with spaces")
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "m"})
    monkeypatch.setattr(layer, "require_valid_channel_name", lambda name: pytest.fail("checked again"))
    assert await recv(layer, channel) == {"type": "m"}


async def test_channel_capacity_patterns_apply():
    layer = InProcessChannelLayer(capacity=2, channel_capacity={"console.*": 4})
    console, other = "console.local!abc", "specific.local!abc"
    for n in range(4):
        await layer.send(console, {"type": "m", "n": n})
    await layer.send(other, {"type": "m"})
    await layer.send(other, {"type": "m"})
    with pytest.raises(ChannelFull):
        await layer.send(other, {"type": "m"})
    with pytest.raises(ChannelFull):
        await layer.send(console, {"type": "m"})


def test_unknown_options_are_refused():
    with pytest.raises(TypeError, match="group_expiry"):
        InProcessChannelLayer(group_expiry=10)


async def test_flush_empties_the_layer(layer):
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    await layer.send(channel, {"type": "m"})
    await layer.flush()
    assert layer.stats()["channels"] == 0
    assert layer.stats()["groups"] == 0


class _EchoGroupConsumer(AsyncJsonWebsocketConsumer):
    groups = ["room.1"]

    async def chat_event(self, message):
        await self.send_json(message["event"])

    async def layer_overflow(self, message):
        await self.send_json({"resync": message["dropped"]})


@pytest.mark.django_db  # Channels closes stale DB connections around consumer calls
async def test_a_channels_consumer_joins_groups_and_receives_through_the_layer(settings):
    settings.CHANNEL_LAYERS = LAYER
    communicator = WebsocketCommunicator(_EchoGroupConsumer.as_asgi(), "/ws")
    connected, _ = await communicator.connect()
    assert connected
    layer = channel_layers["default"]
    assert isinstance(layer, InProcessChannelLayer)

    await layer.group_send("room.1", {"type": "chat.event", "event": {"seq": 1}})
    assert await communicator.receive_json_from(timeout=5) == {"seq": 1}

    await communicator.disconnect()
    assert layer.stats()["groups"] == 0
    assert layer.stats()["channels"] == 0


def test_settings_choose_the_in_process_layer_without_redis_and_the_fanout_layer_with_it():
    root = Path(__file__).resolve().parents[2]
    code = "from engage import settings; print(settings.CHANNEL_LAYERS['default']['BACKEND'])"

    def backend(redis_url: str | None, chosen: str | None = None) -> str:
        ignored = {"REDIS_URL", "DJANGO_SETTINGS_MODULE", "CHANNEL_LAYER_BACKEND"}
        env = {k: v for k, v in os.environ.items() if k not in ignored}
        if redis_url:
            env["REDIS_URL"] = redis_url
        if chosen:
            env["CHANNEL_LAYER_BACKEND"] = chosen
        result = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert backend(None) == "engage.layers.InProcessChannelLayer"
    assert backend("redis://127.0.0.1:6379/0") == "engage.layers.RedisFanoutChannelLayer"
    pubsub = "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert backend("redis://127.0.0.1:6379/0", pubsub) == pubsub


# --- RedisFanoutChannelLayer -------------------------------------------------------


@pytest.fixture
async def redis_pair(settings):
    """Two layers with one prefix: two server processes sharing Redis."""
    import uuid

    prefix = f"test{uuid.uuid4().hex[:12]}"
    first = RedisFanoutChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix, capacity=3)
    second = RedisFanoutChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix, capacity=3)
    yield first, second
    await first.flush()
    await second.flush()


@pytest.mark.redis
async def test_a_group_message_reaches_members_in_another_process(redis_pair):
    first, second = redis_pair
    channel = await first.new_channel()
    await first.group_add("thread.1.customer", channel)

    await second.group_send("thread.1.customer", {"type": "chat.event", "n": 1})

    assert await recv(first, channel) == {"type": "chat.event", "n": 1}


@pytest.mark.redis
async def test_a_group_message_from_another_process_is_decoded_once_for_its_members_here(redis_pair):
    first, second = redis_pair
    channels = [await first.new_channel() for _ in range(2)]
    for channel in channels:
        await first.group_add("thread.2.customer", channel)

    await second.group_send("thread.2.customer", {"type": "chat.event", "n": [1]})

    got = [await recv(first, channel) for channel in channels]
    assert got[0] == {"type": "chat.event", "n": [1]}
    assert got[1] is got[0]


@pytest.mark.redis
async def test_a_message_for_several_groups_is_decoded_once_for_the_senders_own_members(redis_pair):
    first, _ = redis_pair
    console, visitor = await first.new_channel(), await first.new_channel()
    await first.group_add("tenant.1.console", console)
    await first.group_add("customer.9", visitor)

    first.group_send_soon(["tenant.1.console", "customer.9"], {"type": "chat.event", "n": (1,)})

    got = await recv(first, console)
    assert got == {"type": "chat.event", "n": [1]}
    assert await recv(first, visitor) is got


@pytest.mark.redis
async def test_a_handed_over_message_is_the_senders_dict_here_and_a_decoded_copy_elsewhere(redis_pair):
    first, second = redis_pair
    here, elsewhere = await first.new_channel(), await second.new_channel()
    await first.group_add("customer.9", here)
    await second.group_add("customer.9", elsewhere)
    sent = {"type": "chat.event", "n": (1,)}

    first.group_send_soon(["customer.9"], sent, handover=True)

    assert await recv(first, here) is sent
    got = await recv(second, elsewhere)
    assert got == {"type": "chat.event", "n": [1]}
    assert got is not sent


@pytest.mark.redis
async def test_a_burst_of_concurrent_sends_arrives_complete_and_in_order_over_one_connection(settings):
    """300 senders at once (fire-and-forget fan-out under load) used to need 300 connections
    and failed past the pool's 100; now they queue behind one pipeline per round trip."""
    import uuid

    prefix = f"test{uuid.uuid4().hex[:12]}"
    sender = RedisFanoutChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix, capacity=1000)
    receiver = RedisFanoutChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix, capacity=1000)
    try:
        channel = await receiver.new_channel()
        await receiver.group_add("console", channel)

        await asyncio.gather(*(sender.group_send("console", {"type": "m", "n": n}) for n in range(300)))

        assert [(await recv(receiver, channel))["n"] for _ in range(300)] == list(range(300))
        assert sender._publisher().connections == 1
    finally:
        await sender.flush()
        await receiver.flush()


@pytest.mark.redis
async def test_local_members_get_a_group_message_once_not_again_from_redis(redis_pair):
    first, second = redis_pair
    channel = await first.new_channel()
    await first.group_add("g", channel)

    await first.group_send_many(["g", "other"], {"type": "m", "n": 1})
    await second.group_send("g", {"type": "m", "n": 2})

    assert await recv(first, channel) == {"type": "m", "n": 1}
    assert await recv(first, channel) == {"type": "m", "n": 2}
    assert first.stats()["delivered"] == 2


@pytest.mark.redis
async def test_a_direct_send_reaches_a_channel_of_another_process(redis_pair):
    first, second = redis_pair
    channel = await first.new_channel()
    await second.new_channel()

    await second.send(channel, {"type": "direct", "n": 1})

    assert await recv(first, channel) == {"type": "direct", "n": 1}


@pytest.mark.redis
async def test_a_discarded_member_gets_nothing_more(redis_pair):
    first, second = redis_pair
    leaving, staying = await first.new_channel(), await first.new_channel()
    await first.group_add("g", leaving)
    await first.group_add("h", staying)
    await first.group_discard("g", leaving)

    await second.group_send("g", {"type": "m", "n": 1})
    await second.group_send("h", {"type": "m", "n": 2})

    assert await recv(first, staying) == {"type": "m", "n": 2}
    assert first.stats()["delivered"] == 1
    assert first.groups == {"h": {staying}}


@pytest.mark.redis
async def test_a_lost_redis_connection_tells_every_member_to_resync(redis_pair, caplog):
    first, second = redis_pair
    channel = await first.new_channel()
    await first.group_add("g", channel)
    link = first._subscriber_link
    assert link is not None and link.link is not None and link.link.transport is not None

    with caplog.at_level(logging.WARNING, logger="engage.layers"):
        link.link.transport.abort()
        assert await recv(first, channel) == {
            "type": OVERFLOW_TYPE,
            "channel": channel,
            "dropped": 0,
            "reason": "reconnected",
        }
    await second.group_send("g", {"type": "m", "n": 1})
    assert await recv(first, channel) == {"type": "m", "n": 1}
    assert any("restored" in record.getMessage() for record in caplog.records)


@pytest.mark.redis
async def test_the_redis_layer_keeps_mailboxes_bounded(redis_pair):
    first, second = redis_pair
    channel = await first.new_channel()
    await first.group_add("g", channel)
    for n in range(5):
        await second.group_send("g", {"type": "m", "n": n})
    await second.send(channel, {"type": "last"})  # arrives after the group messages: same connection order
    for _ in range(500):  # Redis has answered the sender; the receiving process may still be reading
        if first.stats()["overflow_dropped"] == 3:
            break
        await asyncio.sleep(0.01)

    received = [await recv(first, channel) for _ in range(4)]
    assert received == [
        {"type": "m", "n": 0},
        {"type": "m", "n": 1},
        {"type": "m", "n": 2},
        {"type": OVERFLOW_TYPE, "channel": channel, "dropped": 3, "reason": "capacity"},
    ]


@pytest.mark.redis
async def test_a_publisher_connection_closed_while_idle_is_reopened_for_the_next_publish(redis_pair):
    first, second = redis_pair
    channel = await first.new_channel()
    await first.group_add("g", channel)
    await second.group_send("g", {"type": "m", "n": 1})
    publisher = second._publisher()
    assert publisher.link is not None and publisher.link.transport is not None
    publisher.link.transport.abort()  # as when Redis restarts or drops an idle client
    await asyncio.sleep(0.05)

    await second.group_send("g", {"type": "m", "n": 2})

    assert [await recv(first, channel) for _ in range(2)] == [{"type": "m", "n": 1}, {"type": "m", "n": 2}]
    assert publisher.connections == 2


@pytest.mark.redis
async def test_an_error_reply_reaches_its_own_publisher_and_not_the_others_of_the_batch(redis_pair, monkeypatch):
    from redis.exceptions import ResponseError

    from engage import layers

    first, second = redis_pair
    channel = await first.new_channel()
    await first.group_add("g", channel)
    await second.group_send("g", {"type": "m", "n": 0})  # connected: the next three go out in one batch
    commands = layers._Publisher._commands

    def with_a_bad_command(batch):  # type: ignore[no-untyped-def]
        return b"".join(
            layers._resp(b"NOSUCHCOMMAND") if items[0][0].endswith(b"broken") else commands([(items, future)])
            for items, future in batch
        )

    monkeypatch.setattr(layers._Publisher, "_commands", staticmethod(with_a_bad_command))

    results = await asyncio.gather(
        second.group_send("g", {"type": "m", "n": 1}),
        second.group_send("broken", {"type": "m", "n": 2}),
        second.group_send("g", {"type": "m", "n": 3}),
        return_exceptions=True,
    )

    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ResponseError)
    assert [(await recv(first, channel))["n"] for _ in range(3)] == [0, 1, 3]
    await second.group_send("g", {"type": "m", "n": 4})
    assert (await recv(first, channel))["n"] == 4


@pytest.mark.redis
async def test_a_connection_lost_during_a_batch_fails_that_batch_and_the_next_one_reconnects(redis_pair, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    first, second = redis_pair
    channel = await first.new_channel()
    await first.group_add("g", channel)
    await second.group_send("g", {"type": "m", "n": 0})
    link = second._publisher().link
    assert link is not None and link.transport is not None
    transport = link.transport

    def lose_it_then_write(data: bytes) -> None:
        transport.abort()  # lost before the commands reached Redis
        transport.write(data)

    monkeypatch.setattr(link, "write", lose_it_then_write)
    with pytest.raises(RedisConnectionError):
        await second.group_send("g", {"type": "m", "n": 1})

    await second.group_send("g", {"type": "m", "n": 2})  # on a new connection
    assert (await recv(first, channel))["n"] == 0
    assert (await recv(first, channel))["n"] == 2


def _unconnected_subscriber() -> tuple[Any, list[tuple[bytes, bytes]]]:
    """A subscriber without a connection or a task, and the (Redis channel, data) pairs it delivers."""
    from engage.layers import _Subscriber

    arrived: list[tuple[bytes, bytes]] = []

    class Layer:
        def _arrived(self, name: bytes, data: bytes) -> None:
            arrived.append((name, data))

    subscriber = _Subscriber.__new__(_Subscriber)
    subscriber.layer, subscriber.pending, subscriber.link = Layer(), {}, None
    subscriber.buffer, subscriber.needed = b"", 0
    return subscriber, arrived


@pytest.mark.parametrize("piece", [1, 3, 4096, 1 << 20])
async def test_the_subscriber_parses_pushes_however_the_stream_splits_them(piece):
    from engage.layers import _resp

    subscriber, arrived = _unconnected_subscriber()
    confirmed = asyncio.get_running_loop().create_future()
    subscriber.pending[b"g"] = deque([confirmed])
    big = bytes(range(256)) * 280 + b"\r\n$3\r\n"  # larger than a read, with RESP-like bytes inside
    stream = b"".join(
        [
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\ng\r\n:1\r\n",
            _resp(b"message", b"g", b"first"),
            b"-ERR something\r\n",
            _resp(b"message", b"g", big),
            _resp(b"message", b"p", b""),
        ]
    )
    for start in range(0, len(stream), piece):  # as the network delivers it: a piece at a time
        subscriber.received(stream[start : start + piece])

    assert confirmed.done()
    assert arrived == [(b"g", b"first"), (b"g", big), (b"p", b"")]
    assert (subscriber.buffer, subscriber.needed) == (b"", 0)


@pytest.mark.redis
async def test_every_publish_is_written_in_its_senders_step_and_settled_by_its_own_replies(redis_pair, monkeypatch):
    """Written at once, so Redis' reply tends to be in by the time the loop runs out of work
    (no wake-up of its own); the replies are read in order as they arrive, without a task."""
    first, second = redis_pair
    channel = await first.new_channel()
    await first.group_add("g", channel)
    await second.group_send("g", {"type": "m", "n": 0})  # connected
    assert (await recv(first, channel))["n"] == 0
    publisher = second._publisher()
    link = publisher.link
    assert link is not None
    writes: list[bytes] = []
    real_write = link.write

    def write(data: bytes) -> None:
        writes.append(data)
        real_write(data)

    monkeypatch.setattr(link, "write", write)
    sends = [asyncio.ensure_future(second.group_send_many(["g", "h"], {"type": "m", "n": n})) for n in (1, 2, 3)]
    await asyncio.sleep(0)  # each sender has run up to its wait; no other task yet

    assert [data.count(b"PUBLISH") for data in writes] == [2, 2, 2]  # one write each, as it came
    assert [entry[0] for entry in publisher.replies] == [2, 2, 2]  # two replies due for each
    await asyncio.gather(*sends)
    assert len(publisher.replies) == 0 and publisher.connecting is None
    assert [(await recv(first, channel))["n"] for _ in range(3)] == [1, 2, 3]


@pytest.mark.redis
async def test_publishes_made_while_the_connection_opens_go_out_together_in_order(redis_pair):
    first, second = redis_pair
    channel = await first.new_channel()
    await first.group_add("g", channel)

    await asyncio.gather(*(second.group_send("g", {"type": "m", "n": n}) for n in range(3)))  # the mailbox holds 3

    assert second._publisher().connections == 1
    assert [(await recv(first, channel))["n"] for _ in range(3)] == [0, 1, 2]


@pytest.mark.redis
async def test_a_redis_that_cannot_be_reached_fails_the_publish_with_a_connection_error():
    from redis.exceptions import ConnectionError as RedisConnectionError

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    layer = RedisFanoutChannelLayer(hosts=[f"redis://127.0.0.1:{port}/0"], prefix="unreachable")
    try:
        with pytest.raises(RedisConnectionError, match="publish failed"):
            await layer.group_send("g", {"type": "m"})
        assert layer._publisher().connecting is None and layer._publisher().pending == []
    finally:
        await layer.close()


@pytest.mark.parametrize("bad", ["", "a" * 100, "has space", "ünïcode", 7, ["tenant.1.console"], None])
async def test_a_bad_group_name_is_refused_every_time_a_good_one_is_checked_once(layer, monkeypatch, bad):
    from channels.layers import BaseChannelLayer

    checked: list[str] = []
    check = BaseChannelLayer.require_valid_group_name

    def counted(self, name):  # type: ignore[no-untyped-def]
        checked.append(name)
        return check(self, name)

    monkeypatch.setattr(BaseChannelLayer, "require_valid_group_name", counted)
    channel = await layer.new_channel()
    for _ in range(2):
        with pytest.raises(TypeError):
            await layer.group_add(bad, channel)
        await layer.group_add("tenant.1.console", channel)
        await layer.group_send("tenant.1.console", {"type": "chat.event"})
    assert checked == [bad, "tenant.1.console", bad]


def test_publishes_are_written_as_redis_commands_whatever_their_bytes():
    from engage.layers import _Publisher, _resp

    data = bytes(range(256)) + b"\r\n$3\r\n"
    batch = [([(b"parley:g:customer.9", data), (b"parley:g:tenant.1.console", data)], None)]

    assert _Publisher._commands(batch) == _resp(b"PUBLISH", b"parley:g:customer.9", data) + _resp(
        b"PUBLISH", b"parley:g:tenant.1.console", data
    )


@pytest.mark.redis
async def test_closing_the_layer_fails_a_publish_still_waiting_for_redis(redis_pair):
    from redis.exceptions import ConnectionError as RedisConnectionError

    _first, second = redis_pair
    await second.group_send("g", {"type": "m", "n": 0})  # connected
    waiting = asyncio.ensure_future(second.group_send("g", {"type": "m", "n": 1}))
    await asyncio.sleep(0)  # written, its reply not read yet
    assert len(second._publisher().replies) == 1

    await second.close()

    with pytest.raises(RedisConnectionError, match="closed or lost"):
        await asyncio.wait_for(waiting, 5)


@pytest.mark.redis
@pytest.mark.parametrize("started", [False, True])
async def test_closing_the_layer_while_its_connection_opens_fails_the_publishes_waiting_for_it(started, settings):
    """Before the connecting task ran, or while it waits for Redis: no publish is left hanging."""
    import uuid

    from redis.exceptions import ConnectionError as RedisConnectionError

    layer = RedisFanoutChannelLayer(hosts=[settings.REDIS_URL], prefix=f"test{uuid.uuid4().hex[:12]}")
    waiting = [asyncio.ensure_future(layer.group_send("g", {"type": "m", "n": n})) for n in range(2)]
    await asyncio.sleep(0)  # both queued behind the connection; its task made, not yet run
    publisher = layer._publisher()
    assert publisher.link is None and len(publisher.pending) == 2 and publisher.connecting is not None
    if started:
        await asyncio.sleep(0)  # the task has started opening the connection
    await layer.close()

    for publish in waiting:
        with pytest.raises(RedisConnectionError, match="the layer was closed"):
            await asyncio.wait_for(publish, 5)
    assert publisher.pending == [] and publisher.connecting is None


async def test_the_subscriber_reads_a_null_bulk_string_without_losing_step():
    from engage.layers import _resp

    subscriber, arrived = _unconnected_subscriber()
    subscriber.received(b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n" + _resp(b"message", b"g", b"after"))

    assert arrived == [(b"g", b"after")]
    assert (subscriber.buffer, subscriber.needed) == (b"", 0)
