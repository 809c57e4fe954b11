"""Proactive engagement on the demo shop, in Debian's Chromium (Playwright).

The demo tenant's triggers (guide/proactive/demo.py): an invitation on the 3rd
page view or after 20 s on the pricing page; on the live-chat page a button with
an offline variant and an invitation, both "only if agents are available".
Marked ``redis`` like the widget's browser tests (the server runs in a thread).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from analytics.models import PageView
from chat.models import Thread
from engage.models import Membership
from guide.proactive.demo import seed_proactive_demo

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on(  # type: ignore[attr-defined]
        "console",
        lambda message: (
            message.type == "error"
            and not message.location.get("url", "").endswith("/favicon.ico")
            and page.errors.append(message.text)
        ),  # type: ignore[attr-defined]
    )
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture
def demo(acme):  # type: ignore[no-untyped-def]
    seed_proactive_demo()
    return acme


def _eventually(read, *, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _items(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("parley-items")


def test_the_third_page_view_shows_the_invitation_and_accepting_opens_the_chat(demo, server: str, page: Page) -> None:
    page.goto(f"{server}/demo/")
    expect(_items(page).get_by_role("button", name="Chat with us")).to_be_visible()
    page.goto(f"{server}/demo/products/kettle/")
    expect(_items(page).get_by_role("button", name="Chat with us")).to_be_visible()
    assert _items(page).get_by_role("dialog").count() == 0
    page.goto(f"{server}/demo/products/teapot/")
    invitation = _items(page).get_by_role("dialog", name="Choosing a plan?")
    expect(invitation).to_be_visible()
    expect(invitation).to_contain_text("Our tea experts are happy to help you pick the right subscription.")

    invitation.get_by_role("button", name="Ask us").click()
    chat = page.locator("parley-chat")
    expect(chat.get_by_role("button", name="New conversation")).to_be_visible()
    expect(_items(page).get_by_role("dialog")).to_have_count(0)
    chat.get_by_role("button", name="New conversation").click()
    box = chat.get_by_role("textbox", name="Write a message…")
    box.fill("Which kettle suits a small kitchen?")
    box.press("Enter")

    # The agent sees the page trail beside the conversation (the console shows thread.context).
    def trail():  # type: ignore[no-untyped-def]
        thread = Thread.objects.filter(channel=demo.messaging, messages__author_type="customer").first()
        views = (thread.context.get("pageViews") or []) if thread else []
        return thread if len(views) == 3 else None

    thread = _eventually(trail)
    assert thread is not None, "the page trail never reached the conversation"
    assert [view["url"] for view in thread.context["pageViews"]] == [
        f"{server}/demo/",
        f"{server}/demo/products/kettle/",
        f"{server}/demo/products/teapot/",
    ]
    assert thread.context["currentPage"]["url"] == f"{server}/demo/products/teapot/"
    assert thread.context["identity_initiated_thread"] is True
    # Web analytics recorded the three page views of this tenant's visit.
    assert _eventually(lambda: PageView.objects.filter(tenant=demo.tenant).count() >= 3)
    assert page.errors == []  # type: ignore[attr-defined]


def test_twenty_seconds_on_the_pricing_page_show_the_invitation(demo, server: str, page: Page) -> None:
    page.clock.install()
    page.goto(f"{server}/demo/pricing/")
    expect(_items(page).get_by_role("button", name="Chat with us")).to_be_visible()
    page.clock.run_for(18_000)
    page.wait_for_timeout(300)
    assert _items(page).get_by_role("dialog").count() == 0
    page.clock.run_for(3_000)
    expect(_items(page).get_by_role("dialog", name="Choosing a plan?")).to_be_visible()
    _items(page).get_by_role("button", name="No thanks").click()
    expect(_items(page).get_by_role("dialog")).to_have_count(0)
    # The dismissal holds for the visit: the third page view does not bring it back.
    page.goto(f"{server}/demo/products/mugs/")
    expect(_items(page).get_by_role("button", name="Chat with us")).to_be_visible()
    page.goto(f"{server}/demo/products/kettle/")
    expect(_items(page).get_by_role("button", name="Chat with us")).to_be_visible()
    assert page.evaluate("JSON.parse(localStorage.getItem('parley.1001.journey')).pages.length") == 3
    page.wait_for_timeout(500)
    assert _items(page).get_by_role("dialog").count() == 0
    assert page.errors == []  # type: ignore[attr-defined]


def test_with_every_agent_away_only_the_offline_button_appears(demo, server: str, browser: Browser) -> None:
    assert not Membership.objects.filter(tenant=demo.tenant, presence=Membership.Presence.AVAILABLE).exists()
    away = browser.new_context().new_page()
    away.goto(f"{server}/demo/live/")
    button = _items(away).get_by_role("button", name="Leave us a message")
    expect(button).to_be_visible()
    assert button.get_attribute("data-mode") == "offline"
    away.wait_for_timeout(500)
    assert _items(away).get_by_role("dialog").count() == 0
    away.context.close()

    Membership.objects.filter(pk=demo.alice.pk).update(presence=Membership.Presence.AVAILABLE)
    online = browser.new_context().new_page()
    online.goto(f"{server}/demo/live/")
    expect(_items(online).get_by_role("dialog", name="An agent is free right now")).to_be_visible()
    expect(_items(online).get_by_role("button", name="Chat with an agent")).to_be_visible()
    online.context.close()


def test_a_history_change_counts_as_a_page_view(demo, server: str, page: Page) -> None:
    sent: list[str] = []
    page.on("request", lambda request: "/analytics/1.0/" in request.url and sent.append(request.method))
    page.goto(f"{server}/demo/")
    # Each page's modules load after its "load" event: wait for them before moving on.
    expect(_items(page).get_by_role("button", name="Chat with us")).to_be_visible()
    page.goto(f"{server}/demo/products/kettle/")
    expect(_items(page).get_by_role("button", name="Chat with us")).to_be_visible()
    assert _items(page).get_by_role("dialog").count() == 0
    page.evaluate("history.pushState({}, '', '/demo/products/kettle/reviews')")
    expect(_items(page).get_by_role("dialog", name="Choosing a plan?")).to_be_visible()
    assert "PUT" in sent  # the previous page view's time on page
    paths = _eventually(
        lambda: (
            sorted(PageView.objects.filter(tenant=demo.tenant).values_list("url", flat=True))
            if PageView.objects.filter(tenant=demo.tenant).count() == 3
            else None
        )
    )
    assert paths == [
        f"{server}/demo/",
        f"{server}/demo/products/kettle/",
        f"{server}/demo/products/kettle/reviews",
    ]


def test_analytics_stop_quietly_for_the_window_when_the_backend_is_unreachable(demo, server: str, page: Page) -> None:
    attempts: list[str] = []

    def unreachable(route):  # type: ignore[no-untyped-def]
        attempts.append(route.request.url)
        route.abort("connectionrefused")

    page.route("**/analytics/1.0/**", unreachable)
    page.goto(f"{server}/demo/")
    expect(_items(page).get_by_role("button", name="Chat with us")).to_be_visible()
    page.wait_for_function("sessionStorage.getItem('parley.1001.analytics.disabled') === 'true'")
    page.goto(f"{server}/demo/products/kettle/")
    expect(_items(page).get_by_role("button", name="Chat with us")).to_be_visible()
    page.goto(f"{server}/demo/products/teapot/")
    # The triggers still see the journey (third page view) though nothing is sent any more.
    expect(_items(page).get_by_role("dialog", name="Choosing a plan?")).to_be_visible()
    assert len(attempts) == 1
    assert [error for error in page.errors if "net::" not in error] == []  # type: ignore[attr-defined]
