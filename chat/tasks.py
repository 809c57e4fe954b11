"""Celery tasks of conversations. Each takes ids, loads rows, and is safe to run twice."""

from __future__ import annotations

import datetime

from celery import shared_task

from chat.models import Message


@shared_task(autoretry_for=(ConnectionError, OSError), retry_backoff=True, max_retries=8)
def message_index(message_id: int) -> bool:
    """Indexes one message for search (idempotent: the document id is the message id)."""
    from chat.documents import MessageDocument

    message = Message.objects.select_related("thread").filter(pk=message_id, is_internal=False).first()
    if message is None:
        return False
    MessageDocument().update(message, refresh=False)
    return True


@shared_task
def gateway_sweep(unclaimed_hours: int = 24) -> dict[str, int]:
    """Deletes what the visitor gateway leaves behind: large-event objects of past hours and
    uploads no message claimed within ``unclaimed_hours``. Hourly by Celery beat
    (``CELERY_BEAT_SCHEDULE``) or ``manage.py gateway_sweep``; safe to run twice and concurrently."""
    from chat import services
    from chat.gateway.large_events import large_events_sweep

    return {
        "large_events": large_events_sweep(),
        "uploads": services.attachments_unclaimed_delete(older_than=datetime.timedelta(hours=unclaimed_hours)),
    }


@shared_task
def console_sweep() -> list[int]:
    """Sets offline the agents whose console sockets all closed (or whose process stopped) more
    than ``PARLEY_CONSOLE_OFFLINE_AFTER`` seconds ago. Every minute by Celery beat; the ASGI
    processes run it too while they serve consoles. Returns the memberships set offline."""
    from engage.services import console_connections_sweep

    return console_connections_sweep()
