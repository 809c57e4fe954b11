"""Thread search: Elasticsearch when configured, the database otherwise.

Both backends answer the ids of the tenant's threads that match; callers
combine them with their own (tenant-scoped) querysets.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet

from chat.models import Thread
from engage.models import Tenant

MAX_HITS = 500


def message_search_query(*, tenant_id: int, text: str):  # type: ignore[no-untyped-def]
    """The Elasticsearch query: the text in messages of this tenant only."""
    from chat.documents import MessageDocument

    return (
        MessageDocument.search()
        .filter("term", tenant_id=tenant_id)
        .query("match", text={"query": text, "operator": "and"})
        .source(["thread_id"])
        .extra(size=MAX_HITS)
    )


def _database_matches(tenant: Tenant, text: str) -> QuerySet[Thread]:
    return Thread.objects.filter(tenant=tenant).filter(
        Q(customer__first_name__icontains=text)
        | Q(customer__last_name__icontains=text)
        | Q(customer__email__icontains=text)
        | Q(customer__id_on_external_platform__icontains=text)
        | Q(name__icontains=text)
        | Q(public_id=text)
    )


def thread_ids_matching(*, tenant: Tenant, text: str) -> list[int]:
    """Ids of the tenant's threads whose customer, name or (with Elasticsearch) messages match."""
    text = text.strip()[:200]
    if not text:
        return []
    ids = set(_database_matches(tenant, text).values_list("pk", flat=True)[:MAX_HITS])
    if settings.SEARCH_BACKEND == "elasticsearch":
        response = message_search_query(tenant_id=tenant.pk, text=text).execute()
        hit_ids = {int(hit.thread_id) for hit in response}
        ids |= set(Thread.objects.filter(tenant=tenant, pk__in=hit_ids).values_list("pk", flat=True))
    return sorted(ids)
