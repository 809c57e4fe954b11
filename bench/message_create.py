"""CPU and SQL statements per ``chat.services.message_create`` call.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_wp python bench/message_create.py [--calls 2000]

Runs the write path in this process, the way a gateway or API worker calls it,
and prints, for each case, the process CPU (user + system) per call in µs, the
wall time per call, and the SQL statements per call (savepoints included; the
implicit BEGIN and the COMMIT are round trips too and are not counted). Cases:
a customer and an agent message to an existing thread with an open contact,
a first customer and agent message to a new thread (opens a contact), a retry
of a known ``client_id``, and an internal note.

The database is ``$DATABASE_URL`` (PostgreSQL or SQLite; it must be migrated);
the demo tenant is seeded when missing. By default no subscriber runs, so the
figures are the write alone; ``--subscribers`` keeps the app's subscribers
(channel-layer fan-out, routing of new contacts), but outside a server each
fan-out's ``async_to_sync`` starts an event loop of its own, which a server
does not pay. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engage.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from chat import services  # noqa: E402
from chat.models import Thread  # noqa: E402
from engage import events  # noqa: E402
from engage.management.commands.seed_demo import seed_acme  # noqa: E402
from engage.models import Brand, Channel, Membership  # noqa: E402


class _Counter:
    def __init__(self) -> None:
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.statements += 1
        return execute(sql, params, many, context)


def _measure(name: str, calls: int, prepare: Callable[[int], object], call: Callable[[int, object], object]) -> None:
    prepared = [prepare(i) for i in range(calls)]
    counter = _Counter()
    cpu = wall = 0.0
    with connection.execute_wrapper(counter):
        for i, item in enumerate(prepared):
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            call(i, item)
            cpu += time.process_time() - cpu_start
            wall += time.perf_counter() - wall_start
    print(
        f"{name:<34} {cpu / calls * 1e6:9.0f} µs CPU {wall / calls * 1e6:9.0f} µs wall"
        f" {counter.statements / calls:6.2f} statements"
    )


def _measure_in_loop(calls: int, run: str, thread: Thread, agent: Membership) -> None:
    """CPU per write from the event loop (uvloop, as under uvicorn), the statement's round trip included."""

    from chat.api.replies import Reply, areply_send
    from engage.lib import aiodb, loops

    def text(i: int) -> str:
        return f"Message {i} of the benchmark, a sentence of ordinary length."

    async def customer(i: int) -> object:
        return await services.amessage_create(
            thread=thread, author_type="customer", content={"text": text(i)}, client_id=f"l-{run}-{i}"
        )

    async def reply(i: int) -> object:
        return await areply_send(agent=agent, thread_id=thread.pk, reply=Reply(text=text(i), client_id=f"r-{run}-{i}"))

    async def measure(name: str, call: Callable[[int], object]) -> None:
        for i in range(50):  # connections opened, statements prepared
            assert await call(-1 - i - 1000 * len(name)) is not None  # type: ignore[misc]
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for i in range(calls):
            assert await call(i) is not None  # type: ignore[misc]  # None: it took the worker's way
        cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
        print(f"{name:<34} {cpu / calls * 1e6:9.0f} µs CPU {wall / calls * 1e6:9.0f} µs wall")

    async def main() -> None:
        await measure("in loop: customer, existing thread", customer)
        await measure("in loop: agent reply (areply_send)", reply)
        aiodb.close_all()

    assert aiodb.available(), "the loop's writes need PostgreSQL"
    loop = loops.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per case (default 2000)")
    parser.add_argument("--subscribers", action="store_true", help="keep the app's event subscribers")
    parser.add_argument(
        "--in-loop",
        action="store_true",
        help="the event loop's writes instead (PostgreSQL): amessage_create and the console's areply_send",
    )
    args = parser.parse_args()
    settings.DEBUG = False  # no query log
    if not args.subscribers:
        events._subscribers.clear()
    if not Brand.objects.filter(brand_id=1001).exists():
        seed_acme()
    channel = Channel.objects.get(channel_id="chat_msg")
    agent = Membership.objects.select_related("user", "tenant").get(tenant=channel.tenant, user__username="alice")
    run = uuid.uuid4().hex[:8]
    customer = services.customer_identify(brand=channel.brand, id_on_external_platform=f"bench-{run}")
    print(f"{connection.vendor}, {args.calls} calls per case, subscribers {'on' if args.subscribers else 'off'}")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")

    existing, _ = services.thread_get_or_create(channel=channel, customer=customer, public_id=f"bench-{run}")
    services.message_create(thread=existing, author_type="customer", content={"text": "hello"})
    thread = Thread.objects.get(pk=existing.pk)  # as a handler holds it: a row read earlier
    if args.in_loop:
        services.contact_assign(contact=existing.contacts.get(), agent=agent)
        _measure_in_loop(args.calls, run, thread, agent)
        return

    def fresh_thread(i: int) -> Thread:
        return services.thread_get_or_create(
            channel=channel, customer=customer, public_id=f"bench-{run}-{i}-{uuid.uuid4().hex}"
        )[0]

    def text(i: int) -> dict[str, str]:
        return {"text": f"Message {i} of the benchmark, a sentence of ordinary length."}

    _measure(
        "customer, existing thread",
        args.calls,
        lambda i: None,
        lambda i, _: services.message_create(
            thread=thread, author_type="customer", content=text(i), client_id=f"c-{run}-{i}"
        ),
    )
    _measure(
        "agent, existing thread",
        args.calls,
        lambda i: None,
        lambda i, _: services.message_create(thread=thread, author_type="agent", agent=agent, content=text(i)),
    )
    _measure(
        "agent internal note",
        args.calls,
        lambda i: None,
        lambda i, _: services.message_create(
            thread=thread, author_type="agent", agent=agent, content=text(i), is_internal=True
        ),
    )
    _measure(
        "customer retry (known client_id)",
        args.calls,
        lambda i: None,
        lambda i, _: services.message_create(
            thread=thread, author_type="customer", content=text(i), client_id=f"c-{run}-{i}"
        ),
    )
    _measure(
        "customer, new thread",
        args.calls,
        fresh_thread,
        lambda i, item: services.message_create(
            thread=item, author_type="customer", content=text(i), client_id=f"n-{i}"
        ),
    )
    _measure(
        "agent, new thread",
        args.calls,
        fresh_thread,
        lambda i, item: services.message_create(thread=item, author_type="agent", agent=agent, content=text(i)),
    )


if __name__ == "__main__":
    main()
