from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.models import Event, PageView, Visit, Visitor


def _visit(cast, *, visitor: str, age_days: int) -> Visit:  # type: ignore[no-untyped-def]
    at = timezone.now() - timedelta(days=age_days)
    person = Visitor.objects.create(tenant=cast.tenant, public_id=visitor, first_seen_at=at, last_seen_at=at)
    visit = Visit.objects.create(
        tenant=cast.tenant,
        visitor=person,
        channel=cast.messaging,
        public_id=f"visit-{visitor}",
        started_at=at,
        last_seen_at=at,
    )
    PageView.objects.create(
        tenant=cast.tenant, visit=visit, public_id=f"pv-{visitor}", url="https://x.example/", viewed_at=at
    )
    Event.objects.create(tenant=cast.tenant, visit=visit, kind="chat_shown", occurred_at=at)
    return visit


@pytest.mark.django_db
def test_cleanup_deletes_only_what_is_older_than_the_retention(acme, globex, settings) -> None:
    settings.ANALYTICS_RETENTION_DAYS = 30
    _visit(acme, visitor="old-visitor", age_days=31)
    kept = _visit(acme, visitor="new-visitor", age_days=29)
    _visit(globex, visitor="old-globex", age_days=40)
    out = StringIO()
    call_command("analytics_cleanup", "--chunk", "1", stdout=out)
    assert out.getvalue().startswith("Deleted 2 events, 2 page views, 2 visits and 2 visitors older than ")
    assert list(Visit.objects.values_list("pk", flat=True)) == [kept.pk]
    assert (PageView.objects.count(), Event.objects.count(), Visitor.objects.count()) == (1, 1, 1)


@pytest.mark.django_db
def test_cleanup_can_be_limited_to_one_tenant(acme, globex) -> None:
    _visit(acme, visitor="old-visitor", age_days=31)
    _visit(globex, visitor="old-globex", age_days=40)
    call_command("analytics_cleanup", "--days", "30", "--tenant", str(globex.tenant.pk), stdout=StringIO())
    assert list(Visitor.objects.values_list("tenant_id", flat=True)) == [acme.tenant.pk]


@pytest.mark.django_db
def test_deleting_a_tenant_removes_its_analytics_though_page_views_have_no_database_constraint(acme, globex) -> None:
    _visit(acme, visitor="acme-visitor", age_days=1)
    _visit(globex, visitor="globex-visitor", age_days=1)
    acme.tenant.delete()
    assert list(PageView.objects.values_list("public_id", flat=True)) == ["pv-globex-visitor"]
    assert list(Event.objects.values_list("tenant_id", flat=True)) == [globex.tenant.pk]
