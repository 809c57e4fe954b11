"""The agent console end to end, in Debian's Chromium (Playwright).

A visitor writes through the visitor protocol (ws/visitor) on one server; agents
use the console on another, as two daphne processes behind a balancer would. The
servers run in this process's threads, so pushes cross them through the Redis
channel layer. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import Browser, Page, expect

from chat import services
from chat.models import CannedResponse, Contact, Message, Thread
from engage.management.commands.seed_demo import seed_acme
from engage.models import Channel, Membership, Tenant
from tests.browser.console_server import RestartableServer, Visitor

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT = 10_000


@pytest.fixture(scope="module", autouse=True)
def _bundle() -> None:
    manifest = ROOT / "static" / "dist" / "manifest.json"
    if not manifest.exists() or '"console.js"' not in manifest.read_text():
        subprocess.run(["npm", "run", "--silent", "build"], cwd=ROOT, check=True)


@pytest.fixture
def servers(settings) -> Iterator[tuple[RestartableServer, RestartableServer]]:  # type: ignore[no-untyped-def]
    """(visitor server, console server)."""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"console-browser-{uuid.uuid4().hex}"}}
    seed_acme()
    Channel.objects.filter(channel_id="chat_msg").update(auth_mode=Channel.AuthMode.NONE)
    visitor_server, console_server = RestartableServer(), RestartableServer()
    settings.PUBLIC_URL = console_server.base  # signed file links point here
    visitor_server.start()
    console_server.start()
    yield visitor_server, console_server
    console_server.stop()
    visitor_server.stop()


@pytest.fixture
def visitor(servers) -> Iterator[Visitor]:  # type: ignore[no-untyped-def]
    client = Visitor(servers[0].base, customer_id=f"vera-{uuid.uuid4().hex[:8]}")
    client.connect()
    yield client
    client.close()


def _wait_for(condition, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _off_thread(function, *args):  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_closing_connection(function), *args).result(timeout=30)


def _closing_connection(function):  # type: ignore[no-untyped-def]
    def run(*args):  # type: ignore[no-untyped-def]
        try:
            return function(*args)
        finally:
            connection.close()

    return run


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"))


def _login(browser: Browser, base: str, username: str, *, width: int = 1280, height: int = 720) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(f"{base}/console/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", username)
    page.fill("#id_password", "parley-demo")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/console/")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("body[data-ready]")).to_have_count(1)
    return page


def _sequences(page: Page) -> list[int]:
    return [
        int(value) for value in page.locator("#messages li").evaluate_all("nodes => nodes.map(n => n.dataset.sequence)")
    ]


def test_an_agent_answers_a_visitor_and_a_colleague_sees_it_live(browser, servers, visitor):
    console_base = servers[1].base
    CannedResponse.objects.create(
        tenant=Tenant.objects.get(slug="acme"), title="Greeting", shortcut="greeting", text="Thanks for waiting!"
    )
    alice = _login(browser, console_base, "alice")
    bob = _login(browser, console_base, "bob")
    _shot(alice, "01-empty-inbox")

    visitor.say("Hello, I need help with my order")
    visitor.say("<img src=x onerror=\"document.title='pwned'\"> is this safe?")
    # What the widget and chat manager report about the visit (page trail, variables).
    # (Service calls run off this thread: Playwright keeps an event loop running here.)
    _off_thread(_describe_visit, visitor.customer_id)
    _continue_main_path(alice, bob, visitor)


def _describe_visit(customer_id: str) -> None:
    thread = Thread.objects.get(customer__id_on_external_platform=customer_id)
    services.thread_update_context(
        thread=thread,
        context={
            "currentPage": {"url": "https://shop.example/cart", "title": "Your cart"},
            "pageViews": [
                {"url": "https://shop.example/", "title": "Acme Tea Shop"},
                {"url": "https://shop.example/tea/sencha", "title": "Sencha"},
                {"url": "https://shop.example/cart", "title": "Your cart"},
            ],
            "customVariables": [
                {"identifier": "cart_value", "value": "42.50"},
                {"identifier": "plan", "value": "gold"},
            ],
        },
    )
    services.customer_update(customer=thread.customer, values={"email": "vera@example.com", "extra": {"tier": "gold"}})
    services.thread_get_or_create(channel=thread.channel, customer=thread.customer, name="Delivery question")


def _continue_main_path(alice: Page, bob: Page, visitor: Visitor) -> None:

    # Both consoles see the new contact in the queue, live; the title bar announces it.
    for page in (alice, bob):
        expect(page.locator('[data-count="queue"]')).to_have_text("1")
    expect(bob).to_have_title(re.compile(r"^\(1\) New contact"))
    alice.click('.tab[data-view="queue"]')
    row = alice.locator('[data-testid="contact"]')
    expect(row).to_have_count(1)
    expect(row.locator(".name")).to_have_text("Vera Visitor")
    _shot(alice, "02-queue")

    row.click()
    expect(alice.locator("#messages li")).to_have_count(2)
    # Visitor content is text, never markup.
    expect(alice.locator("#messages li").nth(1).locator(".body p")).to_have_text(
        "<img src=x onerror=\"document.title='pwned'\"> is this safe?"
    )
    assert alice.locator("#messages img").count() == 0
    expect(alice.locator('[data-testid="identity"]')).to_have_text("Anonymous")
    panel = alice.locator("#context")
    expect(panel.get_by_role("link", name="Your cart").first).to_have_attribute("href", "https://shop.example/cart")
    expect(panel.locator(".trail li")).to_have_text(["Your cart", "Sencha", "Acme Tea Shop"])
    expect(panel.locator(".pairs dd")).to_have_text(["gold", "42.50", "gold"])
    expect(panel.locator(".past li")).to_have_text([re.compile(r"^Delivery question Acme messaging")])
    alice.click("#accept")
    expect(alice.locator("#accept")).to_be_hidden()
    expect(alice.locator("#thread-sub")).to_contain_text("with Alice Agent")
    # Bob's console follows: the queue empties without a reload.
    expect(bob.locator('[data-count="queue"]')).to_have_text("0")
    expect(alice.locator('[data-count="mine"]')).to_have_text("1")

    # The visitor types; the agent sees it.
    visitor.typing(True)
    expect(alice.locator("#typing")).to_have_text("Vera Visitor is typing…")
    _shot(alice, "03-visitor-typing")
    visitor.typing(False)
    expect(alice.locator("#typing")).to_be_hidden()

    # Contact fields are edited in place.
    alice.select_option("#field-contact-topic", "order")
    expect(alice.locator("#field-contact-topic")).to_have_value("order")

    # Reply with Enter.
    alice.fill("#reply", "Hi Vera! Let me look that up.")
    alice.press("#reply", "Enter")
    expect(alice.locator("#messages li.outbound")).to_have_count(1)
    _wait_for(lambda: visitor.received_texts() == ["Hi Vera! Let me look that up."])
    # The visitor saw the agent typing, then stop.
    _wait_for(lambda: {"SenderTypingStarted", "SenderTypingEnded"} <= set(visitor.event_types()))
    # The visitor reads it: the receipt turns to Seen.
    visitor.seen()
    expect(alice.locator("#messages li.outbound .receipt")).to_have_text("Seen")

    # A canned response: "/" then its shortcut, Enter inserts it, Enter sends it.
    alice.fill("#reply", "/gre")
    expect(alice.locator("#canned li")).to_have_text(["/greeting Greeting"])
    alice.press("#reply", "Enter")
    expect(alice.locator("#reply")).to_have_value("Thanks for waiting!")
    alice.press("#reply", "Enter")
    _wait_for(lambda: visitor.received_texts()[-1:] == ["Thanks for waiting!"])

    # A file, within the channel's limits, downloaded through its signed URL.
    alice.set_input_files(
        "#file", files=[{"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 x"}]
    )
    expect(alice.locator("#pending-files")).to_have_text("receipt.pdf")
    alice.fill("#reply", "Your receipt")
    alice.press("#reply", "Enter")
    link = alice.locator("#messages li.outbound a.attachment")
    expect(link).to_have_text("receipt.pdf (1 KB)")
    download = alice.request.get(link.get_attribute("href"))
    assert (download.status, download.body()) == (200, b"%PDF-1.4 x")
    _wait_for(lambda: visitor.received_texts()[-1:] == ["Your receipt"])

    # An internal note: shown to agents, never to the visitor.
    alice.check('input[name="mode"][value="note"]')
    alice.fill("#reply", "Order A-17 is delayed at the warehouse.")
    alice.press("#reply", "Enter")
    expect(alice.locator("#messages li.note")).to_have_count(1)
    expect(alice.locator("#messages li.note .author")).to_have_text("Note · Alice Agent")
    _shot(alice, "04-reply-and-note")

    # Resolve.
    alice.check('input[name="mode"][value="reply"]')
    alice.click("#resolve")
    expect(alice.locator("#thread-sub")).to_contain_text("resolved")
    expect(alice.locator('[data-count="mine"]')).to_have_text("0")
    _shot(alice, "05-resolved")
    bob.click('.tab[data-view="resolved"]')
    expect(bob.locator('[data-testid="contact"] .name')).to_have_text(["Vera Visitor"])

    time.sleep(0.3)
    assert visitor.received_texts() == ["Hi Vera! Let me look that up.", "Thanks for waiting!", "Your receipt"]
    contact = Contact.objects.get(thread__customer__id_on_external_platform=visitor.customer_id)
    assert (contact.status, contact.assigned_agent.user.username) == ("resolved", "alice")
    assert list(Message.objects.filter(thread=contact.thread).values_list("sequence", "is_internal")) == [
        (1, False),
        (2, False),
        (3, False),
        (4, False),
        (5, False),
        (6, True),
    ]
    assert "pwned" not in alice.title()


def test_killing_the_console_socket_loses_and_doubles_nothing(browser, servers, visitor):
    _visitor_server, console_server = servers
    visitor.say("m1")
    alice = _login(browser, console_server.base, "alice")
    alice.click('.tab[data-view="queue"]')
    alice.locator('[data-testid="contact"]').first.click()
    alice.click("#accept")
    expect(alice.locator("#accept")).to_be_hidden()
    visitor.say("m2")
    expect(alice.locator("#messages li")).to_have_count(2)

    # The console's server dies mid-conversation: its socket is gone.
    console_server.stop()
    expect(alice.locator("#connection")).not_to_have_text("Live")
    for text in ("m3", "m4", "m5"):
        visitor.say(text)
    _shot(alice, "06-disconnected")
    console_server.start()
    expect(alice.locator("#connection")).to_have_text("Live", timeout=20_000)
    expect(alice.locator("#messages li")).to_have_count(5)
    visitor.say("m6")
    expect(alice.locator("#messages li")).to_have_count(6)
    # A client-side drop (e.g. a network blip) also resyncs; pushes racing it are not doubled.
    alice.evaluate("window.parleyConsole.socket.drop()")
    visitor.say("m7")
    expect(alice.locator("#connection")).to_have_text("Live")
    expect(alice.locator("#messages li")).to_have_count(7)
    time.sleep(0.5)
    assert _sequences(alice) == [1, 2, 3, 4, 5, 6, 7]
    texts = alice.locator("#messages li .body p").all_inner_texts()
    assert texts == ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]
    _shot(alice, "07-resynced")


def test_replies_go_over_the_socket_and_over_rest_when_it_is_down(browser, servers, visitor):
    visitor.say("Hello?")
    alice = _login(browser, servers[1].base, "alice")
    alice.click('.tab[data-view="queue"]')
    alice.locator('[data-testid="contact"]').first.click()
    alice.click("#accept")
    expect(alice.locator("#accept")).to_be_hidden()
    posts: list[str] = []
    frames: list[dict] = []
    alice.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/messages/") else None)
    sockets: list[object] = []

    def listen(ws):  # type: ignore[no-untyped-def]
        ws.on("framesent", lambda payload: frames.append(json.loads(payload)))
        sockets.append(ws)

    alice.on("websocket", listen)
    alice.evaluate("window.parleyConsole.socket.drop()")  # reconnects: the listener sees the new socket
    # "Live" may still show the dropped socket's state: wait for the new socket itself first.
    _wait_for(lambda: alice.evaluate("1") == 1 and len(sockets) == 1)
    expect(alice.locator("#connection")).to_have_text("Live")

    alice.fill("#reply", "Over the socket")
    alice.press("#reply", "Enter")
    expect(alice.locator("#messages li.outbound")).to_have_count(1)
    # The composer clears once the socket's `sent` answer is in (the message itself may show first,
    # from its event): stopping the socket before that would send the reply again over REST.
    expect(alice.locator("#reply")).to_have_value("")
    _wait_for(lambda: visitor.received_texts() == ["Over the socket"])
    sends = [frame for frame in frames if frame["type"] == "send"]
    assert [(frame["text"], frame["is_internal"]) for frame in sends] == [("Over the socket", False)]
    assert posts == []

    # The socket is down: the same reply goes over REST.
    alice.evaluate("window.parleyConsole.socket.stop()")
    expect(alice.locator("#connection")).not_to_have_text("Live")
    alice.fill("#reply", "Over REST")
    alice.press("#reply", "Enter")
    expect(alice.locator("#messages li.outbound")).to_have_count(2)
    _wait_for(lambda: visitor.received_texts() == ["Over the socket", "Over REST"])
    assert len(posts) == 1
    thread = Contact.objects.get(thread__customer__id_on_external_platform=visitor.customer_id).thread
    stored = list(Message.objects.filter(thread=thread).order_by("sequence").values_list("sequence", "client_id"))
    assert [sequence for sequence, _ in stored] == [1, 2, 3]
    assert stored[1][1] == sends[0]["client_id"]
    assert len({client_id for _, client_id in stored}) == 3


def test_keyboard_focus_and_narrow_window(browser, servers, visitor):
    visitor.say("Is anyone there?")
    alice = _login(browser, servers[1].base, "alice")
    alice.click('.tab[data-view="queue"]')
    expect(alice.locator('[data-testid="contact"]')).to_have_count(1)
    alice.locator("#contact-list").focus()
    alice.keyboard.press("j")
    expect(alice.locator('[data-testid="contact"]').first).to_have_attribute("aria-selected", "true")
    alice.keyboard.press("Enter")
    expect(alice.locator("#messages li")).to_have_count(1)
    expect(alice.locator("#reply")).to_be_focused()
    alice.keyboard.press("Escape")
    alice.keyboard.press("/")
    expect(alice.locator("#search")).to_be_focused()
    # Focus is visible: a solid ring on whatever has keyboard focus.
    alice.keyboard.press("Tab")
    outline = alice.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    _shot(alice, "08-keyboard-focus")

    narrow = _login(browser, servers[1].base, "bob", width=390, height=780)
    narrow.click('.tab[data-view="queue"]')
    narrow.locator('[data-testid="contact"]').first.click()
    expect(narrow.locator(".inbox")).to_be_hidden()
    expect(narrow.locator("#messages li")).to_have_count(1)
    _shot(narrow, "09-narrow-conversation")
    narrow.click("#back")
    expect(narrow.locator(".inbox")).to_be_visible()
    _shot(narrow, "10-narrow-inbox")


def test_an_ended_session_leads_back_to_the_login_page(browser, servers):
    alice = _login(browser, servers[1].base, "alice")
    alice.context.clear_cookies()
    alice.evaluate("window.parleyConsole.socket.drop()")
    expect(alice).to_have_url(re.compile(r"/accounts/login/\?next=%2Fconsole%2F$"), timeout=30_000)


def test_a_transfer_reaches_the_colleague_live(browser, servers, visitor):
    visitor.say("Can someone from billing help?")
    alice = _login(browser, servers[1].base, "alice")
    bob = _login(browser, servers[1].base, "bob")
    alice.click('.tab[data-view="queue"]')
    alice.locator('[data-testid="contact"]').first.click()
    alice.click("#accept")
    expect(alice.locator('[data-count="mine"]')).to_have_text("1")
    alice.click(".more summary")
    bob_id = Membership.objects.get(user__username="bob").pk
    alice.select_option("#transfer-target", f"agent:{bob_id}")
    alice.click("#transfer")
    expect(alice.locator("#thread-sub")).to_contain_text("with Bob Agent")
    expect(alice.locator('[data-count="mine"]')).to_have_text("0")
    expect(bob.locator('[data-count="mine"]')).to_have_text("1")
    expect(bob.locator('[data-testid="contact"] .name')).to_have_text(["Vera Visitor"])
    _shot(bob, "11-transferred-to-bob")
