"""Celery tasks of conversations. Each takes ids, loads rows, and is safe to run twice."""

from __future__ import annotations

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
