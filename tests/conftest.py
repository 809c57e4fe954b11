"""The standing cast and the test environment.

``acme`` and ``globex`` are the demo tenants (engage/management/commands/seed_demo.py):
the same ids the docs use. Tests marked ``postgres`` or ``redis`` need those
services: skipped when absent, failed under ``CI=true``.
"""

from __future__ import annotations

import dataclasses
import os
import uuid

# The test process keeps Python's own full collections: engage.asgi.FreezeSurvivors would freeze
# what one test leaves for the next to find. Set before anything imports engage.asgi;
# tests/engage/test_asgi_gc.py checks a server's default and the hook itself, and the servers
# tests start in processes of their own run with the default.
os.environ["PARLEY_GC_SWEEP_SECONDS"] = "off"

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from chat import services
from chat.models import Customer
from engage import events
from engage.management.commands.seed_demo import seed_acme, seed_globex
from engage.models import Brand, Channel, Membership, RoutingQueue, Tenant

CI = os.environ.get("CI", "").lower() == "true"
# The embedded profile's layer (engage/layers.py), so tests run what `make run` serves.
IN_MEMORY_LAYER = {"default": {"BACKEND": "engage.layers.InProcessChannelLayer", "CONFIG": {"capacity": 200}}}


def pytest_configure(config: pytest.Config) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Test databases restart their ids every run: keep one run's cache entries (keyed by
    # ids) away from the next run's, here and in the servers tests start as subprocesses.
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    os.environ["CACHE_KEY_PREFIX"] = prefix
    if "KEY_PREFIX" in settings.CACHES["default"]:
        settings.CACHES["default"]["KEY_PREFIX"] = prefix


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needs = {
        "postgres": (settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL or start it on 127.0.0.1:5432"),
        "redis": (bool(settings.REDIS_URL), "needs Redis: set REDIS_URL or start it on 127.0.0.1:6379"),
    }
    missing: set[str] = set()
    for item in items:
        for marker, (available, reason) in needs.items():
            if marker in item.keywords and not available:
                missing.add(reason)
                item.add_marker(pytest.mark.skip(reason))
    if missing and CI:
        raise pytest.UsageError("CI=true and tests cannot run: " + "; ".join(sorted(missing)))


@pytest.fixture(autouse=True)
def _channel_layer(request: pytest.FixtureRequest, settings):  # type: ignore[no-untyped-def]
    """In-memory layer by default; tests marked ``redis`` keep the Redis layer."""
    if "redis" not in request.keywords:
        settings.CHANNEL_LAYERS = IN_MEMORY_LAYER
    yield


@pytest.fixture(autouse=True)
def _loop_database_connections():  # type: ignore[no-untyped-def]
    """A test's event loop ends with the test: close the connections it opened (engage.lib.aiodb)."""
    yield
    from engage.lib import aiodb

    aiodb.close_all()


@pytest.fixture(autouse=True)
def _fresh_render_caches():  # type: ignore[no-untyped-def]
    """Pushes are rendered once per message and process; ids restart with each test database."""
    from chat.console import rendering
    from chat.gateway import pushes

    rendering.RENDERED.clear()
    pushes.FRAMES.clear()


@pytest.fixture(autouse=True)
def _render_in_the_test_process(settings):  # type: ignore[no-untyped-def]
    """Large visitor answers are rendered in the socket's worker: a render process would not see a
    test's uncommitted data. tests/gateway/test_large_answers.py turns the processes on."""
    settings.PARLEY_GATEWAY_RENDER_PROCESSES = 0


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": None},
        },
    }


@dataclasses.dataclass
class Cast:
    tenant: Tenant
    brand: Brand
    messaging: Channel
    live: Channel
    queue: RoutingQueue
    admin: Membership
    alice: Membership
    bob: Membership
    visitor: Customer


def _cast(slug: str) -> Cast:
    tenant = Tenant.objects.get(slug=slug)
    brand = Brand.objects.get(tenant=tenant)
    channels = {c.channel_id: c for c in Channel.objects.filter(tenant=tenant)}
    members = {m.user.username: m for m in Membership.objects.filter(tenant=tenant).select_related("user")}
    if slug == "acme":
        messaging, live = channels["chat_msg"], channels["chat_live"]
        admin, alice, bob = members["acme-admin"], members["alice"], members["bob"]
    else:
        messaging = live = channels["globex_msg"]
        admin = alice = bob = members["globex-admin"]
    visitor = services.customer_identify(brand=brand, id_on_external_platform=f"{slug}-visitor-1", first_name="Vera")
    return Cast(tenant, brand, messaging, live, RoutingQueue.objects.get(tenant=tenant), admin, alice, bob, visitor)


@pytest.fixture
def acme(db) -> Cast:  # type: ignore[no-untyped-def]
    seed_acme()
    return _cast("acme")


@pytest.fixture
def globex(db) -> Cast:  # type: ignore[no-untyped-def]
    seed_globex()
    return _cast("globex")


@pytest.fixture
def published():  # type: ignore[no-untyped-def]
    """Every domain event delivered during the test, in order."""
    seen: list[events.Event] = []
    events.subscribe(events.Event, seen.append)
    yield seen
    events.unsubscribe(events.Event, seen.append)


@pytest.fixture
def user_model():  # type: ignore[no-untyped-def]
    return get_user_model()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """Ends the test database's other sessions before it is dropped. The sockets' worker
    threads (``engage.lib.consumers.in_worker``) and the event loops' connections of servers
    tests started keep theirs open, idle, and PostgreSQL refuses to drop a database in use."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
