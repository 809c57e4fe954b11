"""Runs work in threads that start together, each with its own database connection,
as separate server processes would: only the database's locks keep them apart."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_concurrently(workers: int, work: Callable[[int], None], *, timeout: float = 120) -> list[BaseException]:
    """Calls ``work(i)`` for i in range(workers) at once; returns the errors raised."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return errors
