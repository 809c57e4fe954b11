"""Shared fixtures of the browser tests: one Debian Chromium per test module, and a
Parley serving the demo shop for the widget and proactive tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.widget_server import CHROMIUM_ARGS, serving


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running in this thread; Django's
    # guard would refuse every ORM call of the test (and the flush) otherwise.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def server(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A real Parley (ASGI, free loopback port) with the demo shop; yields its base URL."""
    settings.PARLEY_DEMO = True
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    # The shared Redis cache outlives the test database, whose ids restart: a fresh key
    # prefix keeps e.g. last-published queue positions of an earlier test from leaking in.
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"demo-test-{uuid.uuid4().hex}"}}
    with serving() as base:  # drains and forgets the analytics ingestion around each test
        yield base
