"""Deletes what the visitor gateway leaves behind: expired large-event objects and unclaimed uploads.

Run it hourly (cron, a Kubernetes CronJob, or Celery beat calling the same
functions). Safe to run twice and concurrently.
"""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand

from chat import services
from chat.gateway.large_events import large_events_sweep


class Command(BaseCommand):
    help = "Delete expired large-event objects and uploads no message used within a day."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--unclaimed-hours", type=int, default=24, help="Keep unclaimed uploads this long.")

    def handle(self, *args: object, **options: object) -> None:
        hours = int(options["unclaimed_hours"])  # type: ignore[call-overload]
        events = large_events_sweep()
        uploads = services.attachments_unclaimed_delete(older_than=datetime.timedelta(hours=hours))
        self.stdout.write(f"Deleted {events} large events and {uploads} unclaimed uploads.")
