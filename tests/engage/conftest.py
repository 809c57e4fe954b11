"""Fixtures shared by the tests of engage's own modules."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import engage.asgi


@pytest.fixture
def survivors() -> Iterator[engage.asgi.FreezeSurvivors]:
    """A hook of the test's own (the test process runs without one), which sweeps only when the
    test asks; no frozen garbage is left for the tests after."""
    own = engage.asgi.FreezeSurvivors(3600)
    gc.callbacks.insert(0, own)
    try:
        yield own
    finally:
        own.stop()
        engage.asgi._collect_and_freeze()
