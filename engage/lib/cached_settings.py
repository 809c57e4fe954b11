"""Settings read on every message, looked up once.

``django.conf.settings`` answers an attribute through ``LazyObject.__getattribute__``,
a Python call and a ``getattr`` more per read: on the paths that run for every
message a socket carries, a dozen such reads a message added up
(docs/performance.md, "Eighth session"). ``setting()`` keeps what it read until a
setting changes (``setting_changed``: ``override_settings`` and pytest-django's
``settings`` fixture send it), so tests that change a setting see the change.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_MISSING = object()
_read: dict[str, Any] = {}
_lock = threading.Lock()  # a read and its store, or a forgetting: a value read before a change is not kept


def setting(name: str, default: Any = None) -> Any:
    """``getattr(settings, name, default)``, read once; every caller of one name passes the same default."""
    value = _read.get(name, _MISSING)
    if value is _MISSING:
        with _lock:
            value = _read[name] = getattr(settings, name, default)
    return value


@receiver(setting_changed)
def _forget(**kwargs: Any) -> None:
    with _lock:
        _read.clear()
