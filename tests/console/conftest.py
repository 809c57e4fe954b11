"""Fixtures of the console tests."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def own_cache(settings):  # type: ignore[no-untyped-def]
    """A key prefix of its own: the shared Redis cache is never flushed."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"console-test-{uuid.uuid4().hex}"}}
