"""The batch writer: background flushes, clean shutdown, and a bad batch not blocking the rest."""

from __future__ import annotations

import pytest

from analytics.models import PageView
from analytics.validation import Batch, PageViewRow
from analytics.writer import BatchWriter
from tests.analytics.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _batch(n: int, *, visitor: str = "visitor-0001") -> Batch:
    row = PageViewRow(f"pv-{n:06d}", f"https://shop.example/{n}", "", "", 1_790_000_000_000 + n, 0)
    return Batch(visitor, "visit-00001", (row,), ())


def test_the_background_thread_flushes_without_being_asked(acme) -> None:
    writer = BatchWriter(interval=0.05, max_rows=1000)
    try:
        for n in range(10):
            assert writer.submit(acme.tenant.pk, acme.live.pk, _batch(n))
        wait_for(lambda: PageView.objects.count() == 10)
        assert writer.pending_rows == 0
        assert writer.written == 10
    finally:
        writer.close()


def test_a_clean_shutdown_writes_everything_accepted(acme) -> None:
    writer = BatchWriter(interval=3600, max_rows=100_000)  # never flushes on its own during the test
    for n in range(500):
        assert writer.submit(acme.tenant.pk, acme.live.pk, _batch(n, visitor=f"visitor-{n % 7:04d}"))
    assert PageView.objects.count() == 0
    writer.close()
    assert PageView.objects.count() == 500
    assert writer.pending_rows == 0


def test_a_batch_the_database_refuses_is_dropped_alone(acme) -> None:
    writer = BatchWriter(background=False)
    writer.submit(acme.tenant.pk, acme.live.pk, _batch(1))
    writer.submit(acme.tenant.pk, 999_999_999, _batch(2, visitor="visitor-9999"))  # no such channel: FK violation
    writer.submit(acme.tenant.pk, acme.live.pk, _batch(3))
    assert writer.flush() == 2
    assert sorted(PageView.objects.values_list("public_id", flat=True)) == ["pv-000001", "pv-000003"]
    assert writer.dropped == 1


def test_a_visit_deleted_behind_the_writers_back_is_written_again(acme) -> None:
    from analytics.models import Visit

    writer = BatchWriter(background=False)
    writer.submit(acme.tenant.pk, acme.live.pk, _batch(1))
    assert writer.flush() == 1
    Visit.objects.all().delete()  # e.g. the retention cleanup; this process still knows the visit's id
    writer.submit(acme.tenant.pk, acme.live.pk, _batch(2))
    assert writer.flush() == 1
    assert (Visit.objects.count(), list(PageView.objects.values_list("public_id", flat=True))) == (1, ["pv-000002"])
    assert writer.dropped == 0
