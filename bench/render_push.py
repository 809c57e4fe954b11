"""CPU per rendering and per JSON dump of a MessageCreated push: before (model instances) and after (snapshot).

    python bench/render_push.py [--rounds 7] [--number 2000]
    python bench/render_push.py --database parley_bench_render   # PostgreSQL on 127.0.0.1, recreated

Writes a few messages through ``chat.services.message_create`` (SQLite in a
temporary directory by default; ``--database`` drops, creates and migrates that
PostgreSQL database), keeps each one's MessageCreated event as a process other
than the writer gets it (msgpack, as the channel layer carries it), and times,
in this process, what a server does per message:

- visitor push: ``message_from_snapshot`` + ``_message_frame`` (before) against
  ``_snapshot_frame`` (after), chat/gateway/pushes.py;
- console data: ``message_from_snapshot`` + ``MessageSerializer().to_representation``
  (before) against ``message_data_from_snapshot`` (after), chat/console/rendering.py;
- JSON text of the push: ``json.dumps`` (before) against ``cxone_dumps`` (after);
  of the console frame: ``json.dumps(default=str)`` against ``console_dumps``;
- reading a visitor's SendMessage frame: ``json.loads`` against the gateway's reader.

Each figure is the median over ``--rounds`` rounds of the mean time (µs) of
``--number`` calls; before and after alternate round by round, so load from
other processes hits both alike. Results are checked equal before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="PostgreSQL database on 127.0.0.1 to recreate (default: SQLite, temporary)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000, help="calls per round and case")
    return parser.parse_args()


def _setup_database(args: argparse.Namespace, scratch: Path) -> None:
    if args.database:
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.database}"
        for statement in (f'DROP DATABASE IF EXISTS "{args.database}"', f'CREATE DATABASE "{args.database}"'):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", statement], check=True)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engage.settings")
    os.environ.pop("REDIS_URL", None)  # no layer, no cache server: nothing but the rendering is timed
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False
    settings.MEDIA_ROOT = scratch / "media"
    call_command("migrate", verbosity=0)


def _messages() -> list[tuple[str, dict[str, Any]]]:
    """(name, event as the channel layer delivers it) of each kind of message timed."""
    import msgpack

    from chat import events, services
    from chat.models import Contact
    from engage.events import subscribe, unsubscribe
    from engage.management.commands.seed_demo import seed_acme
    from engage.models import Brand, Channel, Membership

    seed_acme()
    brand = Brand.objects.get(tenant__slug="acme")
    channel = Channel.objects.get(tenant=brand.tenant, channel_id="chat_msg")
    alice = Membership.objects.select_related("user").get(tenant=brand.tenant, user__username="alice")
    alice.nickname = "Ali"
    alice.save(update_fields=["nickname"])
    customer = services.customer_identify(brand=brand, id_on_external_platform="bench-render", first_name="Vera")
    thread, _ = services.thread_get_or_create(channel=channel, customer=customer, public_id="bench-render")
    seen: list[Any] = []
    subscribe(events.MessageCreated, seen.append)
    services.message_create(thread=thread, author_type="customer", content={"text": "Hello, I need help"})
    services.contact_assign(contact=Contact.objects.get(thread=thread), agent=alice)
    services.message_create(thread=thread, author_type="customer", content={"text": "Bonjour, ma commande 👋"})
    services.message_create(thread=thread, author_type="agent", agent=alice, content={"text": "Sure, one moment"})
    attachment = services.attachment_create(
        channel=channel, file_name="plan.pdf", mime_type="application/pdf", data=b"%PDF-1.4", agent=alice
    )
    services.message_create(
        thread=thread, author_type="agent", agent=alice, content={"text": "The plan"}, attachments=[attachment]
    )
    unsubscribe(events.MessageCreated, seen.append)
    names = ["customer text (new contact)", "customer text", "agent text", "agent text + attachment"]
    return [(name, msgpack.unpackb(msgpack.packb(event.as_dict()))) for name, event in zip(names, seen, strict=True)]


def _time(call: Callable[[], Any], number: int) -> float:
    start = time.process_time()
    for _ in range(number):
        call()
    return (time.process_time() - start) / number * 1e6


def _ab(name: str, before: Callable[[], Any], after: Callable[[], Any], args: argparse.Namespace) -> None:
    before(), after()  # warm
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        times["before"].append(_time(before, args.number))
        times["after"].append(_time(after, args.number))
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"  {name:<34} {b:8.1f} µs  →  {a:7.1f} µs   ({b / a:4.1f}×)")


def main() -> None:
    args = _parse()
    with tempfile.TemporaryDirectory() as scratch:
        _setup_database(args, Path(scratch))
        _run(args)


def _run(args: argparse.Namespace) -> None:
    from django.core import signing

    from chat.api.serializers import MessageSerializer
    from chat.console import protocol as console_protocol
    from chat.console.rendering import console_dumps, message_data_from_snapshot
    from chat.gateway.protocol import cxone_dumps
    from chat.gateway.protocol.frames import _loads
    from chat.gateway.pushes import _message_frame, _snapshot_frame
    from chat.gateway.state import ConnectionState
    from chat.models import Customer
    from chat.snapshots import message_from_snapshot, usable_snapshot
    from engage.models import Channel

    signing.TimestampSigner.timestamp = lambda self: "1"  # type: ignore[method-assign]  # equal signed URLs
    serializer = MessageSerializer()
    print(f"median of {args.rounds} rounds × {args.number} calls, process CPU per call; before → after")
    for name, event in _messages():
        snapshot = usable_snapshot(event, event["tenant_id"])
        assert snapshot is not None
        channel = Channel.objects.select_related("brand").get(pk=event["channel_id"])
        state = ConnectionState(
            channel=channel,
            customer=Customer.objects.get(pk=event["customer_id"]),
            legacy_customer_id=None,
            visitor_id="bench",
            base_url="http://bench",
        )

        def visitor_before(snapshot: Any = snapshot, state: Any = state) -> dict[str, Any]:
            message = message_from_snapshot(snapshot)
            assert message is not None
            return _message_frame(state, message)

        def visitor_after(snapshot: Any = snapshot, state: Any = state) -> dict[str, Any]:
            return _snapshot_frame(state, snapshot)

        def console_before(snapshot: Any = snapshot) -> dict[str, Any]:
            return serializer.to_representation(message_from_snapshot(snapshot))  # type: ignore[no-any-return]

        def console_after(snapshot: Any = snapshot) -> dict[str, Any]:
            return message_data_from_snapshot(snapshot)

        drop_id = {"eventId": None}
        assert {**visitor_before(), **drop_id} == {**visitor_after(), **drop_id}
        assert console_before() == console_after()
        push = visitor_after()
        console_frame = console_protocol.message_frame(thread_id=event["thread_id"], message=console_after())
        assert json.loads(cxone_dumps(push)) == push
        assert json.loads(console_dumps(console_frame)) == json.loads(json.dumps(console_frame, default=str))
        print(f"{name} (push {len(cxone_dumps(push).encode())} B, console frame {len(console_dumps(console_frame))} B)")
        _ab("visitor push render", visitor_before, visitor_after, args)
        _ab("console message data render", console_before, console_after, args)

        def push_before(push: dict[str, Any] = push) -> str:
            return json.dumps(push, separators=(",", ":"), ensure_ascii=False)

        def push_after(push: dict[str, Any] = push) -> str:
            return cxone_dumps(push)

        def console_frame_before(frame: dict[str, Any] = console_frame) -> str:
            return json.dumps(frame, default=str, separators=(",", ":"))

        def console_frame_after(frame: dict[str, Any] = console_frame) -> str:
            return console_dumps(frame)

        _ab("visitor push JSON text", push_before, push_after, args)
        _ab("console frame JSON text", console_frame_before, console_frame_after, args)
    send = json.dumps(
        {
            "action": "chatWindowEvent",
            "eventId": "5a0b4d4e-0f7e-4a55-9d1b-3f4c8e2b7a10",
            "payload": {
                "eventType": "SendMessage",
                "brand": {"id": 1001},
                "channel": {"id": "chat_msg"},
                "consumerIdentity": {"idOnExternalPlatform": "b7f3c1de-2a4b-4c8e-9f10-1a2b3c4d5e6f"},
                "data": {
                    "thread": {"idOnExternalPlatform": "bench-render"},
                    "messageContent": {"type": "TEXT", "payload": {"text": "Bonjour, ma commande 👋"}},
                    "idOnExternalPlatform": "9c8b7a6f-5e4d-4c3b-2a19-0f8e7d6c5b4a",
                    "consumer": {"customFields": []},
                    "consumerContact": {"customFields": []},
                    "attachments": [],
                    "browserFingerprint": {"browser": "Chrome", "os": "Linux", "language": "fr-FR"},
                },
            },
        }
    )
    print(f"visitor SendMessage frame ({len(send)} B)")
    _ab(
        "read (size check + parse)",
        lambda: (len(send.encode()), json.loads(send)),
        lambda: _loads(send, send.encode()),
        args,
    )


if __name__ == "__main__":
    main()
