"""Deletes what the visitor gateway leaves behind: expired large-event objects and unclaimed uploads.

Celery beat runs the same task hourly (``CELERY_BEAT_SCHEDULE``); without beat, run
this from cron or a Kubernetes CronJob. Safe to run twice and concurrently.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from chat.tasks import gateway_sweep


class Command(BaseCommand):
    help = "Delete expired large-event objects and uploads no message used within a day."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--unclaimed-hours", type=int, default=24, help="Keep unclaimed uploads this long.")

    def handle(self, *args: object, **options: object) -> None:
        deleted = gateway_sweep(unclaimed_hours=int(options["unclaimed_hours"]))  # type: ignore[call-overload]
        self.stdout.write(f"Deleted {deleted['large_events']} large events and {deleted['uploads']} unclaimed uploads.")
