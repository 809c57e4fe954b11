"""Django's connection pool hands out only live connections: after PostgreSQL dropped them (a
restart, a failover, an idle timeout), the next request still gets an answer."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from engage.models import Tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _terminate_other_backends() -> int:
    """Ends every other session on the test database, as a server restart would."""
    params = connection.get_connection_params()
    with psycopg.connect(
        dbname=params["dbname"],
        user=params.get("user"),
        host=params.get("host"),
        port=params.get("port"),
        autocommit=True,
    ) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0])


def test_a_query_after_the_server_dropped_the_pooled_connections_is_answered(acme):  # type: ignore[no-untyped-def]
    assert connection.pool is not None
    assert Tenant.objects.filter(pk=acme.tenant.pk).exists()
    connection.close()  # back to the pool, idle
    assert _terminate_other_backends() >= 1
    assert Tenant.objects.filter(pk=acme.tenant.pk).exists()
