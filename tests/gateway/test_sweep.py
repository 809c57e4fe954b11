"""The gateway's leftovers are deleted: expired large events, uploads no message used."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from chat import services
from chat.gateway.large_events import large_event_store, large_events_sweep
from chat.models import Attachment

pytestmark = pytest.mark.django_db


def test_unclaimed_uploads_older_than_the_limit_are_deleted(acme):  # type: ignore[no-untyped-def]
    old = services.attachment_create(channel=acme.messaging, file_name="old.txt", mime_type="text/plain", data=b"1")
    fresh = services.attachment_create(channel=acme.messaging, file_name="new.txt", mime_type="text/plain", data=b"2")
    used = services.attachment_create(channel=acme.messaging, file_name="used.txt", mime_type="text/plain", data=b"3")
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="t")
    services.message_create(thread=thread, author_type="customer", content={"text": ""}, attachments=[used])
    Attachment.objects.filter(pk__in=[old.pk, used.pk]).update(created_at=timezone.now() - datetime.timedelta(days=2))
    old_name = old.file.name
    out = io.StringIO()
    call_command("gateway_sweep", stdout=out)
    assert out.getvalue().strip() == "Deleted 0 large events and 1 unclaimed uploads."
    assert set(Attachment.objects.values_list("file_name", flat=True)) == {"new.txt", "used.txt"}
    assert not default_storage.exists(old_name)
    assert default_storage.exists(fresh.file.name)
    assert services.attachments_unclaimed_delete(older_than=datetime.timedelta(days=1)) == 0


def test_large_events_of_past_hours_are_swept(acme):  # type: ignore[no-untyped-def]
    large_event_store("{}", base_url="http://testserver")
    default_storage.save("large-events/2020010100/old.json", io.BytesIO(b"{}"))
    assert large_events_sweep() == 1
    assert not default_storage.exists("large-events/2020010100/old.json")
    assert len(default_storage.listdir("large-events")[0]) == 2  # the emptied folder stays; files are what cost


def test_celery_beat_runs_the_sweep_every_hour(acme):  # type: ignore[no-untyped-def]
    from django.conf import settings

    from chat import tasks
    from engage.celery import app

    [entry] = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == tasks.gateway_sweep.name]
    assert entry["schedule"] == 3600.0
    assert tasks.gateway_sweep.name in app.tasks
    old = services.attachment_create(channel=acme.messaging, file_name="old.txt", mime_type="text/plain", data=b"1")
    Attachment.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=2))
    default_storage.save("large-events/2020010100/old.json", io.BytesIO(b"{}"))
    assert tasks.gateway_sweep.apply().get() == {"large_events": 1, "uploads": 1}
    assert not Attachment.objects.exists()
