"""Write use cases of analytics besides ingestion: retention."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from django.db import transaction

from analytics.models import Event, PageView, Visit, Visitor


@dataclasses.dataclass(frozen=True)
class CleanupResult:
    events: int
    page_views: int
    visits: int
    visitors: int


def _delete_in_chunks(queryset, chunk: int) -> int:
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:chunk])
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += queryset.model.objects.filter(pk__in=ids).delete()[1].get(queryset.model._meta.label, 0)


def analytics_cleanup(*, before: datetime, tenant_id: int | None = None, chunk: int = 5000) -> CleanupResult:
    """Deletes analytics older than ``before`` in short transactions (the time indexes find them).

    Events and page views go by their own time; a visit goes once it was last
    seen before ``before`` (with whatever it still holds), a visitor once it was.
    """
    scope = {} if tenant_id is None else {"tenant_id": tenant_id}
    events = _delete_in_chunks(Event.objects.filter(occurred_at__lt=before, **scope), chunk)
    page_views = _delete_in_chunks(PageView.objects.filter(viewed_at__lt=before, **scope), chunk)
    visits = _delete_in_chunks(Visit.objects.filter(last_seen_at__lt=before, **scope), chunk)
    visitors = _delete_in_chunks(Visitor.objects.filter(last_seen_at__lt=before, **scope), chunk)
    return CleanupResult(events, page_views, visits, visitors)
