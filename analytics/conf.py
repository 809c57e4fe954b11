"""Settings of the analytics app: a Django setting of the same name wins, else the
environment variable ``PARLEY_<NAME>``, else the default (docs/analytics.md, "Settings")."""

from __future__ import annotations

import os

from django.conf import settings

DEFAULTS: dict[str, float] = {
    "ANALYTICS_FLUSH_INTERVAL": 0.2,  # seconds between flushes of the batch writer (≤ 1)
    "ANALYTICS_RATE_LIMIT_VISITOR": 120,  # requests per minute per visitor and tenant
    "ANALYTICS_RATE_LIMIT_IP": 1200,  # requests per minute per client IP
    "ANALYTICS_TRUSTED_PROXIES": 0,  # reverse proxies in front that append to X-Forwarded-For
    "ANALYTICS_CHANNEL_CACHE_SECONDS": 30,  # how long a process trusts a brandId/channelId answer
    "ANALYTICS_RETENTION_DAYS": 395,  # analytics_cleanup deletes older rows
}


def setting(name: str) -> float:
    if hasattr(settings, name):
        return float(getattr(settings, name))
    raw = os.environ.get(f"PARLEY_{name}")
    return float(raw) if raw not in (None, "") else DEFAULTS[name]
