"""Thread search: Elasticsearch when configured, the database otherwise.

Both backends answer the ids of the tenant's threads that match; callers
combine them with their own (tenant-scoped) querysets.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import Q
from elasticsearch import ApiError, TransportError

from chat.models import Thread
from engage.models import Tenant

MAX_HITS = 500
logger = logging.getLogger(__name__)


def message_search_query(*, tenant_id: int, text: str):
    """The Elasticsearch query: the text in messages of this tenant only."""
    from chat.documents import MessageDocument

    return (
        MessageDocument.search()
        .filter("term", tenant_id=tenant_id)
        .query("match", text={"query": text, "operator": "and"})
        .source(["thread_id"])
        .extra(size=MAX_HITS)
    )


def thread_match(text: str, *, tenant_id: int, prefix: str = "") -> Q:
    """A filter for the tenant's threads matching ``text``, on any model that reaches a thread.

    ``prefix`` is the lookup path to the thread ("" on Thread, "thread__" on Contact).
    The database part covers customer names, e-mail, id and the thread's name and
    public id; with Elasticsearch the threads whose messages match are added.
    Callers keep their own tenant filter: this adds matches, never other tenants' rows.
    """
    text = text.strip()[:200]
    match = (
        Q(**{f"{prefix}customer__first_name__icontains": text})
        | Q(**{f"{prefix}customer__last_name__icontains": text})
        | Q(**{f"{prefix}customer__email__icontains": text})
        | Q(**{f"{prefix}customer__id_on_external_platform__icontains": text})
        | Q(**{f"{prefix}name__icontains": text})
        | Q(**{f"{prefix}public_id": text})
    )
    if settings.SEARCH_BACKEND == "elasticsearch" and text:
        try:
            response = message_search_query(tenant_id=tenant_id, text=text).execute()
        except (ApiError, TransportError):
            logger.warning("search cluster unavailable: searching the database only", exc_info=True)
        else:
            match |= Q(**{f"{prefix}pk__in": sorted({int(hit.thread_id) for hit in response})})
    return match


def thread_ids_matching(*, tenant: Tenant, text: str) -> list[int]:
    """Ids of the tenant's threads whose customer, name or (with Elasticsearch) messages match."""
    if not text.strip():
        return []
    threads = Thread.objects.filter(tenant=tenant).filter(thread_match(text, tenant_id=tenant.pk))
    return sorted(threads.values_list("pk", flat=True)[:MAX_HITS])
