"""Sequence numbers and idempotency under concurrent writers, on PostgreSQL."""

from __future__ import annotations

import pytest

from chat import services
from chat.models import Contact, Message
from tests.concurrency import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_writers_get_gap_free_unique_sequences(acme):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="busy")

    def write(index: int) -> None:
        for n in range(10):
            services.message_create(
                thread=thread, author_type="customer", content={"text": f"{index}-{n}"}, client_id=f"{index}-{n}"
            )

    errors = run_concurrently(8, write)
    assert errors == []
    sequences = list(Message.objects.filter(thread=thread).order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, 81))
    assert Contact.objects.filter(thread=thread).count() == 1


def test_concurrent_retries_of_one_client_id_create_one_message(acme):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="retry")
    results = []

    def send(index: int) -> None:
        results.append(
            services.message_create(thread=thread, author_type="customer", content={"text": "once"}, client_id="same")
        )

    errors = run_concurrently(8, send)
    assert errors == []
    assert Message.objects.filter(thread=thread).count() == 1
    assert sorted(result.created for result in results) == [False] * 7 + [True]
    assert len({result.message.pk for result in results}) == 1


def test_concurrent_first_contacts_of_one_customer_make_one_customer(acme):
    ids = []

    def identify(index: int) -> None:
        ids.append(services.customer_identify(brand=acme.brand, id_on_external_platform="racer").pk)

    assert run_concurrently(8, identify) == []
    assert len(set(ids)) == 1
