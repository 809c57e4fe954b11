"""CPU per event of Parley's channel layers, as the visitor gateway uses them.

Each chat event is one ``group_send_many`` to the tenant's console group and the
customer's group (``chat.realtime``), a dict of about 1.5 KB with a nested
``snapshot``. The process holds ``--channels`` visitor channels (one per
customer group) and one console channel; receivers are tasks blocked in
``receive()``, as the consumers' dispatch loops are.

Phases (CPU time of this process, ``time.process_time``, per event):

- ``publish``: the Redis publish path alone (two Redis channels per event),
  one at a time and in bursts of ``--burst`` concurrent publishes;
- ``send``: ``group_send_many`` with nobody waiting (the mailboxes fill);
  ``drain``: receiving what waits (per received message);
- ``cycle``: send with a receiver waiting on each member channel, until both
  members received it; ``receive`` = (cycle - send) / 2 per received message;
- ``remote``: a second layer instance on the same Redis and prefix (another
  process) holds the members; the sending one has none. CPU per event of both;
- the same local phases for ``InProcessChannelLayer``.

    .venv/bin/python bench/layer_fanout.py [--events 5000] [--channels 500] [--prefix layers]
    .venv/bin/python bench/layer_fanout.py --layers /tmp/old_layers.py   # A/B: another version of the module

Numbers vary with the machine's load: compare A/B runs done back to back
(``git show <commit>:engage/layers.py > /tmp/old_layers.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engage.layers

layers: Any = engage.layers  # or the module of --layers

CONSOLE = "tenant.1.console"


def make_event(n: int, customer: int) -> dict[str, Any]:
    """A ``message.created`` as ``chat.realtime.fan_out`` sends it, about 1.5 KB in msgpack."""
    stamp = f"2026-11-21T10:15:{n % 60:02d}.123456+00:00"
    return {
        "type": "chat.event",
        "event": {
            "event": "message.created",
            "tenant_id": 1,
            "thread_id": 1000 + customer,
            "customer_id": customer,
            "channel_id": 7,
            "message_id": 500000 + n,
            "sequence": n,
            "direction": "inbound",
            "author_type": "customer",
            "is_internal": False,
            "snapshot": {
                "v": 1,
                "message": {
                    "id": 500000 + n,
                    "tenant_id": 1,
                    "thread_id": 1000 + customer,
                    "contact_id": 3000 + customer,
                    "sequence": n,
                    "public_id": f"0b9f1c2e-6a47-4a8e-9d3c-{n:012d}",
                    "client_id": f"c-{n}",
                    "direction": "inbound",
                    "author_type": "customer",
                    "author_agent_id": None,
                    "content_type": "text",
                    "content": {
                        "text": f"Hello, I have a question about my order number {n}: it was due on Tuesday "
                        "and the tracking page still shows it in the warehouse. Can you help?"
                    },
                    "is_internal": False,
                    "created_at": stamp,
                    "delivered_at": None,
                    "seen_at": None,
                },
                "thread": {
                    "id": 1000 + customer,
                    "tenant_id": 1,
                    "channel_id": 7,
                    "customer_id": customer,
                    "public_id": f"5d0c7a11-2f3b-4c55-8e61-{customer:012d}",
                    "name": "",
                    "is_locked": False,
                    "is_archived": False,
                    "last_sequence": n,
                    "created_at": "2026-11-21T09:00:00+00:00",
                    "updated_at": stamp,
                },
                "customer": {
                    "id": customer,
                    "tenant_id": 1,
                    "public_id": f"a3e4b5c6-7d8e-4f90-8123-{customer:012d}",
                    "first_name": "Visitor",
                    "last_name": str(customer),
                    "email": f"visitor{customer}@example.com",
                    "image_url": "",
                    "custom_fields": {"plan": "gold", "locale": "en-GB"},
                    "created_at": "2026-11-21T09:00:00+00:00",
                },
                "contact": {
                    "id": 3000 + customer,
                    "tenant_id": 1,
                    "thread_id": 1000 + customer,
                    "queue_id": 4,
                    "assigned_agent_id": 12,
                    "status": "open",
                    "public_id": f"9e8d7c6b-5a49-4382-9176-{customer:012d}",
                    "custom_fields": {},
                    "created_at": "2026-11-21T09:00:01+00:00",
                    "updated_at": stamp,
                },
                "assignee": {
                    "id": 12,
                    "tenant_id": 1,
                    "user_id": 12,
                    "role": "agent",
                    "nickname": "Alex",
                    "user": {"id": 12, "username": "alex", "first_name": "Alex", "last_name": "Agent"},
                },
                "author": None,
                "attachments": [],
            },
        },
    }


class Members:
    """Receiver tasks blocked in ``receive()`` on each member channel, counting what they get."""

    def __init__(self, layer: Any, channels: list[str]) -> None:
        self.layer = layer
        self.count = 0
        self.target = 0
        self.done: asyncio.Future[None] | None = None
        self.tasks = [asyncio.ensure_future(self._run(channel)) for channel in channels]

    async def _run(self, channel: str) -> None:
        receive = self.layer.receive
        while True:
            message = await receive(channel)
            if message["type"] != "chat.event":
                raise RuntimeError(f"unexpected {message!r}")
            self.count += 1
            if self.count >= self.target and self.done is not None and not self.done.done():
                self.done.set_result(None)

    async def wait_for(self, total: int) -> None:
        self.target = total
        if self.count < total:
            self.done = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(self.done, timeout=30)

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()


async def setup(layer: Any, channels: int) -> tuple[str, list[str]]:
    console = await layer.new_channel()
    await layer.group_add(CONSOLE, console)
    visitors = []
    for n in range(channels):
        channel = await layer.new_channel()
        await layer.group_add(f"customer.{n}", channel)
        visitors.append(channel)
    return console, visitors


def cpu() -> float:
    return time.process_time()


async def phase_send_drain(layer: Any, console: str, visitors: list[str], events: list[dict], chunk: int) -> tuple:
    """Sends with nobody waiting, then drains; CPU per sent event and per drained message."""
    send_cpu = drain_cpu = 0.0
    received = 0
    for start in range(0, len(events), chunk):
        part = events[start : start + chunk]
        t0 = cpu()
        for event in part:
            await layer.group_send_many([CONSOLE, f"customer.{event['event']['customer_id']}"], event)
        send_cpu += cpu() - t0
        t0 = cpu()
        for event in part:
            await layer.receive(console)
            await layer.receive(visitors[event["event"]["customer_id"]])
            received += 2
        drain_cpu += cpu() - t0
    return send_cpu / len(events), drain_cpu / received


async def phase_cycle(layer: Any, console: str, visitors: list[str], events: list[dict], sender: Any = None) -> float:
    """Receivers wait on every member channel; CPU per event from send to both deliveries."""
    sender = sender or layer
    members = Members(layer, [console, *visitors])
    await asyncio.sleep(0.05)
    t0 = cpu()
    expected = 0
    for event in events:
        await sender.group_send_many([CONSOLE, f"customer.{event['event']['customer_id']}"], event)
        expected += 2
        await members.wait_for(expected)
    used = cpu() - t0
    members.stop()
    await asyncio.gather(*members.tasks, return_exceptions=True)
    return used / len(events)


async def phase_publish(layer: Any, events: list[dict], burst: int) -> tuple[float, float]:
    """The publish path alone: the bytes ``group_send_many`` publishes, to two Redis channels per event."""
    publisher = layer._publisher()
    keys = [layer._group_key + CONSOLE.encode(), layer._group_key + b"customer.nobody"]
    datas = [layer._origin + layers._encode(event) for event in events]
    t0 = cpu()
    for data in datas:
        await publisher.publish([(key, data) for key in keys])
    single = (cpu() - t0) / len(datas)
    t0 = cpu()
    for start in range(0, len(datas), burst):
        part = datas[start : start + burst]
        await asyncio.gather(*(publisher.publish([(key, data) for key in keys]) for data in part))
    bursts = (cpu() - t0) / len(datas)
    return single, bursts


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--prefix", default=os.environ.get("CHANNEL_LAYER_PREFIX", "layers"))
    parser.add_argument("--repeat", type=int, default=3, help="best of N per phase")
    parser.add_argument("--layers", help="a file to load instead of engage/layers.py (A/B runs)")
    args = parser.parse_args()
    global layers
    if args.layers:
        import importlib.util

        spec = importlib.util.spec_from_file_location("layers_under_test", args.layers)
        assert spec is not None and spec.loader is not None
        layers = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(layers)
        print(f"layers from {args.layers}")
    InProcessChannelLayer, RedisFanoutChannelLayer = layers.InProcessChannelLayer, layers.RedisFanoutChannelLayer
    _decode, _encode = layers._decode, layers._encode

    events = [make_event(n, n % args.channels) for n in range(args.events)]
    print(f"event size {len(_encode(events[0]))} B msgpack; {args.events} events, {args.channels} visitor channels")
    gc.collect()
    gc.freeze()  # the events and channels are long-lived; keep collections out of the figures

    results: dict[str, list[float]] = {}

    def keep(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    capacity = max(2 * args.events, 1000)
    for _ in range(args.repeat):
        layer = RedisFanoutChannelLayer(hosts=[args.redis], prefix=args.prefix, capacity=capacity)
        remote = RedisFanoutChannelLayer(hosts=[args.redis], prefix=args.prefix, capacity=capacity)
        try:
            console, visitors = await setup(layer, args.channels)
            # warm up: connections, subscriptions
            await phase_send_drain(layer, console, visitors, events[:200], 100)
            single, bursts = await phase_publish(layer, events, args.burst)
            keep("redis publish (one at a time)", single)
            keep(f"redis publish (bursts of {args.burst})", bursts)
            send, drain = await phase_send_drain(layer, console, visitors, events, 100)
            keep("redis send", send)
            keep("redis drain (per message)", drain)
            cycle = await phase_cycle(layer, console, visitors, events)
            keep("redis cycle (send + 2 waiting receivers)", cycle)
            # another process holds the members
            await layer.flush()
            layer = RedisFanoutChannelLayer(hosts=[args.redis], prefix=args.prefix, capacity=capacity)
            await layer.new_channel()
            r_console, r_visitors = await setup(remote, args.channels)
            await phase_cycle(remote, r_console, r_visitors, events[:200], sender=layer)
            keep("redis remote cycle (both processes)", await phase_cycle(remote, r_console, r_visitors, events, layer))
        finally:
            await layer.flush()
            await remote.flush()

        local = InProcessChannelLayer(capacity=capacity)
        console, visitors = await setup(local, args.channels)
        await phase_send_drain(local, console, visitors, events[:200], 100)
        send, drain = await phase_send_drain(local, console, visitors, events, 100)
        keep("in-process send", send)
        keep("in-process drain (per message)", drain)
        cycle = await phase_cycle(local, console, visitors, events)
        keep("in-process cycle (send + 2 waiting receivers)", cycle)
        await local.flush()

    print(f"{'phase':52} {'µs CPU':>8}  (best of {args.repeat}; per event unless noted)")
    best = {name: min(values) for name, values in results.items()}
    for kind in ("redis", "in-process"):
        cycle, send = best[f"{kind} cycle (send + 2 waiting receivers)"], best[f"{kind} send"]
        best[f"{kind} receive (per message: (cycle - send) / 2)"] = (cycle - send) / 2
    payload = _encode(events[0])
    t0 = cpu()
    for _ in range(10000):
        _decode(payload)
    best["msgpack decode of one event (per receiver)"] = (cpu() - t0) / 10000
    for name, value in best.items():
        print(f"{name:52} {us(value)}")


if __name__ == "__main__":
    asyncio.run(main())
