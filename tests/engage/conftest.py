"""Fixtures shared by the tests of engage's own modules."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import engage.asgi


@pytest.fixture
def survivors() -> Iterator[engage.asgi.FreezeSurvivors]:
    """A hook of the test's own, which sweeps only when the test asks; the one engage.asgi
    installed is out of the collector's callbacks meanwhile."""
    installed = [hook for hook in gc.callbacks if isinstance(hook, engage.asgi.FreezeSurvivors)]
    own = engage.asgi.FreezeSurvivors(3600)
    gc.callbacks[:] = [own] + [hook for hook in gc.callbacks if hook not in installed]
    try:
        yield own
    finally:
        own.stop()
        gc.callbacks[:0] = installed
        engage.asgi._collect_and_freeze()  # no frozen garbage left for the tests after
