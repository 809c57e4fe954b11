"""Adds the demo tenant's triggers, chat buttons and invitations (run after seed_demo)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from engage.models import Tenant
from guide.proactive.demo import seed_proactive_demo


class Command(BaseCommand):
    help = "Create or refresh Acme's demo triggers, chat buttons and invitations."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--force", action="store_true", help="Allow seeding with DEBUG off.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("Refusing to seed demo data with DEBUG off (use --force).")
        if not Tenant.objects.filter(slug="acme").exists():
            raise CommandError("Run `manage.py seed_demo` first.")
        seed_proactive_demo()
        self.stdout.write(self.style.SUCCESS("Demo triggers ready: a button, and an invitation on the 3rd page view."))
