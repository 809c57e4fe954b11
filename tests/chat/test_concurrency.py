"""Sequence numbers and idempotency under concurrent writers, on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from chat import services
from chat.models import Contact, Message

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_concurrently(workers: int, work: Callable[[int], None]) -> list[BaseException]:
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_concurrent_writers_get_gap_free_unique_sequences(acme):
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id="busy")

    def write(index: int) -> None:
        for n in range(10):
            services.message_create(
                thread=thread, author_type="customer", content={"text": f"{index}-{n}"}, client_id=f"{index}-{n}"
            )

    errors = _run_concurrently(8, write)
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

    errors = _run_concurrently(8, send)
    assert errors == []
    assert Message.objects.filter(thread=thread).count() == 1
    assert sorted(result.created for result in results) == [False] * 7 + [True]
    assert len({result.message.pk for result in results}) == 1


def test_concurrent_first_contacts_of_one_customer_make_one_customer(acme):
    ids = []

    def identify(index: int) -> None:
        ids.append(services.customer_identify(brand=acme.brand, id_on_external_platform="racer").pk)

    assert _run_concurrently(8, identify) == []
    assert len(set(ids)) == 1
