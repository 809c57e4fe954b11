from __future__ import annotations

import uuid

import pytest

from analytics.ratelimit import RateLimiter


def _limiter(prefix: str, clock: list[float]) -> RateLimiter:
    return RateLimiter(window=60, sync_interval=3600, prefix=prefix, clock=lambda: clock[0])


def test_one_process_counts_exactly_and_a_new_window_starts_over() -> None:
    clock = [1_000_020.0]
    limiter = _limiter(f"test:{uuid.uuid4().hex}", clock)
    assert [limiter.hit("visitor", "v1", 3) for _ in range(5)] == [True, True, True, False, False]
    assert limiter.hit("visitor", "v2", 3)
    assert limiter.retry_after() == 60 - 1_000_020 % 60
    clock[0] += 60
    assert limiter.hit("visitor", "v1", 3)


@pytest.mark.redis
def test_processes_share_their_counts_through_the_cache(settings) -> None:
    """Two limiters (two processes) with one Redis cache: after a sync each sees the other's hits."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.REDIS_URL}
    }
    clock = [2_000_000.0]
    prefix = f"test:{uuid.uuid4().hex}"
    first, second = _limiter(prefix, clock), _limiter(prefix, clock)
    assert all(first.hit("ip", "203.0.113.9", 10) for _ in range(6))
    first.sync()
    assert all(second.hit("ip", "203.0.113.9", 10) for _ in range(4))
    second.sync()
    assert not second.hit("ip", "203.0.113.9", 10)
    first.sync()
    assert not first.hit("ip", "203.0.113.9", 10)


def test_a_local_cache_shares_counts_too(settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rl"}}
    clock = [3_000_000.0]
    prefix = f"test:{uuid.uuid4().hex}"
    first, second = _limiter(prefix, clock), _limiter(prefix, clock)
    assert all(first.hit("ip", "a", 4) for _ in range(3))
    first.sync()
    second.sync()
    assert second.hit("ip", "a", 4)
    second.sync()
    first.sync()
    assert not first.hit("ip", "a", 4)
