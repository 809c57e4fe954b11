"""Django's connection pool checks a connection before handing it out, so one PostgreSQL dropped
(a restart, a failover, an idle timeout) is replaced instead of failing a request.

Killing the pool's connections here would also kill those other tests' threads hold on the shared
test database; the check itself is psycopg_pool's (``ConnectionPool.check_connection``), and this
asserts Django's pool is built with it."""

from __future__ import annotations

import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_the_pool_checks_each_connection_before_handing_it_out():  # type: ignore[no-untyped-def]
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.pool is not None
    assert connection.pool._check == ConnectionPool.check_connection
