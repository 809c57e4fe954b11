"""Creates the demo tenants Acme and Globex. Safe to run again: it converges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from engage.models import Brand, Channel, CustomFieldDefinition, Membership, RoutingQueue, Tenant

if TYPE_CHECKING:
    from django.contrib.auth.models import User

DEMO_PASSWORD = "parley-demo"
DEMO_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]


def _user(username: str, *, first: str, last: str, staff: bool) -> User:
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"}
    )
    user.is_staff = staff
    if created or not user.has_usable_password():
        user.set_password(DEMO_PASSWORD)
    user.save()
    return user


def _member(user: User, tenant: Tenant, role: str, presence: str = Membership.Presence.OFFLINE) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": role, "max_concurrent_contacts": 3}
    )
    return membership


def seed_acme() -> None:
    acme, _ = Tenant.objects.update_or_create(slug="acme", defaults={"name": "Acme", "time_zone": "Europe/Amsterdam"})
    brand, _ = Brand.objects.update_or_create(brand_id=1001, defaults={"tenant": acme, "name": "Acme Shop"})
    order, _ = CustomFieldDefinition.objects.update_or_create(
        tenant=acme, scope="contact", ident="order_number", defaults={"label": "Order number", "field_type": "text"}
    )
    topic, _ = CustomFieldDefinition.objects.update_or_create(
        tenant=acme,
        scope="contact",
        ident="topic",
        defaults={
            "label": "Topic",
            "field_type": "list",
            "choices": [
                {"value": "order", "label": "My order"},
                {"value": "product", "label": "A product"},
                {"value": "other", "label": "Something else"},
            ],
        },
    )
    CustomFieldDefinition.objects.update_or_create(
        tenant=acme, scope="customer", ident="email", defaults={"label": "E-mail", "field_type": "email"}
    )
    CustomFieldDefinition.objects.update_or_create(
        tenant=acme,
        scope="customer",
        ident="customer_since",
        defaults={"label": "Customer since", "field_type": "date"},
    )
    messaging, _ = Channel.objects.update_or_create(
        brand=brand,
        channel_id="chat_msg",
        defaults={
            "tenant": acme,
            "name": "Acme messaging",
            "kind": Channel.Kind.MESSAGING,
            "multi_thread": True,
            "welcome_message": "Hi! Leave us a message and we will answer here, even if you come back later.",
            "translations": {"en": {"weAreOnline": "We're online", "weAreOffline": "We'll answer soon"}},
        },
    )
    live, _ = Channel.objects.update_or_create(
        brand=brand,
        channel_id="chat_live",
        defaults={
            "tenant": acme,
            "name": "Acme live chat",
            "kind": Channel.Kind.LIVE_CHAT,
            "multi_thread": False,
            "welcome_message": "Hi! An agent will be with you shortly.",
            "translations": {"en": {"weAreOnline": "Chat with us", "weAreOffline": "Leave a message"}},
        },
    )
    live.pre_contact_fields.set([topic, order])
    admin = _user("acme-admin", first="Ada", last="Admin", staff=True)
    alice = _user("alice", first="Alice", last="Agent", staff=False)
    bob = _user("bob", first="Bob", last="Agent", staff=False)
    members = [
        _member(admin, acme, Membership.Role.ADMIN),
        _member(alice, acme, Membership.Role.AGENT),
        _member(bob, acme, Membership.Role.AGENT),
    ]
    queue, _ = RoutingQueue.objects.update_or_create(tenant=acme, name="Acme support")
    queue.channels.set([messaging, live])
    queue.agents.set(members)


def seed_globex() -> None:
    globex, _ = Tenant.objects.update_or_create(
        slug="globex", defaults={"name": "Globex", "time_zone": "America/New_York"}
    )
    brand, _ = Brand.objects.update_or_create(brand_id=2002, defaults={"tenant": globex, "name": "Globex"})
    channel, _ = Channel.objects.update_or_create(
        brand=brand,
        channel_id="globex_msg",
        defaults={"tenant": globex, "name": "Globex messaging", "kind": Channel.Kind.MESSAGING, "multi_thread": True},
    )
    admin = _user("globex-admin", first="Gil", last="Globex", staff=True)
    member = _member(admin, globex, Membership.Role.ADMIN)
    queue, _ = RoutingQueue.objects.update_or_create(tenant=globex, name="Globex support")
    queue.channels.set([channel])
    queue.agents.set([member])


class Command(BaseCommand):
    help = "Create or refresh the demo tenants Acme (brand 1001) and Globex (brand 2002)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="Allow seeding with DEBUG off.")

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("Demo users have a known password; refusing with DEBUG off (use --force).")
        with transaction.atomic():
            seed_acme()
            seed_globex()
        self.stdout.write(self.style.SUCCESS("Demo tenants ready: Acme (brandId 1001), Globex (brandId 2002)."))
