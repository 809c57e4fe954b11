"""The loader and chat widget end to end, in Debian's Chromium (Playwright).

Marked ``redis``: the server runs in a thread and agent replies are published
from the test thread, so pushes cross threads through the Redis channel layer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.widget_server import CHROMIUM_ARGS, serving

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def server(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings.PARLEY_DEMO = True
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    with serving() as base:
        yield base


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
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.console_lines = []  # type: ignore[attr-defined]
    page.on("console", lambda message: page.console_lines.append(message))  # type: ignore[attr-defined]
    yield page
    context.close()


def _console(page: Page) -> list[str]:
    return [message.text for message in page.console_lines]  # type: ignore[attr-defined]


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))


def test_demo_page_shows_the_chat_button(acme, server: str, page: Page) -> None:
    page.goto(f"{server}/demo/")

    button = page.locator("parley-button").get_by_role("button", name="We're online")
    expect(button).to_be_visible()
    _shot(page, "demo-button")
    assert [line for line in _console(page) if "Parley" in line or "error" in line.lower()] == []


def test_strict_csp_page_shows_the_button_without_violations(acme, server: str, page: Page) -> None:
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)

    page.goto(f"{server}/demo/strict/")

    expect(page.locator("parley-button").get_by_role("button", name="We're online")).to_be_visible()
    assert violations == []


def test_a_channel_in_maintenance_shows_nothing(acme, server: str, page: Page) -> None:
    acme.messaging.status = "maintenance"
    acme.messaging.save(update_fields=["status"])

    page.goto(f"{server}/demo/")
    page.wait_for_function("() => document.readyState === 'complete'")
    page.wait_for_timeout(300)

    assert page.locator("parley-button, parley-chat").count() == 0
    assert "Parley: channel chat_msg of brand 1001 is in maintenance; the chat is not shown." in _console(page)
    assert page.evaluate("typeof window.parley") == "undefined"
