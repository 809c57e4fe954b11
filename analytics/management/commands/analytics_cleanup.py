"""Deletes analytics older than the retention period (run it daily, e.g. from cron)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics.conf import setting
from analytics.services import analytics_cleanup


class Command(BaseCommand):
    help = "Delete visitors, visits, page views and events older than ANALYTICS_RETENTION_DAYS (default 395)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, help="Keep this many days instead of ANALYTICS_RETENTION_DAYS.")
        parser.add_argument("--tenant", type=int, help="Only this tenant's rows (its database id).")
        parser.add_argument("--chunk", type=int, default=5000, help="Rows deleted per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else int(setting("ANALYTICS_RETENTION_DAYS"))
        if days < 1:
            raise CommandError("Keep at least one day.")
        before = timezone.now() - timedelta(days=days)
        result = analytics_cleanup(before=before, tenant_id=options["tenant"], chunk=max(1, options["chunk"]))
        self.stdout.write(
            f"Deleted {result.events} events, {result.page_views} page views, {result.visits} visits "
            f"and {result.visitors} visitors older than {before:%Y-%m-%d %H:%M} UTC."
        )
