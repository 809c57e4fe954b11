"""Routing and agent-API figures, on PostgreSQL.

    python bench/console_routing.py                  # 1,000 contacts, 50 agents
    python bench/console_routing.py --contacts 200 --agents 10

Recreates the PostgreSQL database ``parley_bench_console`` (``BENCH_DATABASE_URL``
overrides the server), migrates it and seeds the demo tenants, then measures:

- routing: ``tenant_route`` assigning N waiting contacts to M available agents
  (capacity N/M each), by 1 router and by 4 concurrent routers (threads with
  their own connections, like separate processes), contacts per second, and
  that every contact was assigned once and no agent is over capacity;
- the agent API: p50/p99 of ``GET /api/v1/contacts/?view=mine`` (50 rows) and of
  ``POST /api/v1/contacts/{id}/assign/`` (pick), through Django's test client.

It prints figures and asserts nothing about time. See docs/console.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = "parley_bench_console"


def _prepare_database() -> None:
    import psycopg

    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = server.rsplit("/", 1)[0] + f"/{DB_NAME}"
    os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engage.settings")


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms   (n={len(ordered)})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=50)
    options = parser.parse_args()
    _prepare_database()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from chat import assignment, services
    from chat.models import Contact
    from engage import events
    from engage.management.commands.seed_demo import seed_acme
    from engage.models import Membership, RoutingQueue, Tenant

    call_command("migrate", verbosity=0)
    seed_acme()
    tenant = Tenant.objects.get(slug="acme")
    queue = RoutingQueue.objects.get(tenant=tenant)
    channel = queue.channels.get(channel_id="chat_msg")
    # Routing is measured explicitly, not by the subscribers.
    events._subscribers.clear()
    user_model = get_user_model()
    capacity = max(1, options.contacts // options.agents)
    agents = []
    for index in range(options.agents):
        user = user_model.objects.create_user(f"bench-agent-{index}", password="x")
        agents.append(Membership.objects.create(user=user, tenant=tenant, max_concurrent_contacts=capacity))
    queue.agents.add(*agents)

    def fill(prefix: str) -> list[int]:
        ids = []
        for index in range(options.contacts):
            customer = services.customer_identify(brand=channel.brand, id_on_external_platform=f"{prefix}-{index}")
            thread, _ = services.thread_get_or_create(channel=channel, customer=customer)
            ids.append(
                services.message_create(
                    thread=thread, author_type="customer", content={"text": "hi"}
                ).message.contact_id
            )
        return ids

    def reset() -> None:
        Contact.objects.filter(tenant=tenant).update(status="resolved", waiting_since=None)
        Membership.objects.filter(pk__in=[a.pk for a in agents]).update(presence="available", last_routed_at=None)
        Membership.objects.exclude(pk__in=[a.pk for a in agents]).update(presence="offline")

    print(f"Routing {options.contacts} waiting contacts to {options.agents} agents (capacity {capacity} each)")
    for routers in (1, 4):
        reset()
        ids = fill(f"r{routers}")
        counts: list[int] = []

        def route(counts: list[int] = counts) -> None:
            try:
                while True:
                    routed = assignment.tenant_route(tenant_id=tenant.pk)
                    counts.append(len(routed))
                    if not routed:
                        return
            finally:
                connection.close()

        started = time.perf_counter()
        workers = [threading.Thread(target=route) for _ in range(routers)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        assigned = Contact.objects.filter(pk__in=ids, assigned_agent__isnull=False).count()
        loads = assignment.agent_loads(agent_ids=[a.pk for a in agents])
        print(
            f"  {routers} router(s): {assigned} assigned in {elapsed:.2f} s = {assigned / elapsed:,.0f} contacts/s; "
            f"max load {max(loads.values())}/{capacity}; assigned once: {sum(counts) == assigned}"
        )

    reset()
    alice = Membership.objects.get(user__username="alice")
    alice.max_concurrent_contacts = 100
    alice.save()
    Membership.objects.update(presence="offline")
    ids = fill("api")
    client = Client()
    client.force_login(alice.user)
    picks = []
    for contact_id in ids[:50]:
        started = time.perf_counter()
        response = client.post(f"/api/v1/contacts/{contact_id}/assign/", content_type="application/json", data={})
        picks.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
    lists = []
    for _ in range(100):
        started = time.perf_counter()
        response = client.get("/api/v1/contacts/?view=mine&limit=50")
        lists.append(time.perf_counter() - started)
        assert response.json()["count"] == 50
    print("Agent API (Django test client, PostgreSQL, no network):")
    print(f"  POST contacts/{{id}}/assign/     {_percentiles(picks)}")
    print(f"  GET  contacts/?view=mine (50)   {_percentiles(lists)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
