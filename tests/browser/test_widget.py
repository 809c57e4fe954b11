"""The loader and chat widget end to end, in Debian's Chromium (Playwright).

Marked ``redis``: the server runs in a thread and agent replies are published
from the test thread, so pushes cross threads through the Redis channel layer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
from django.db import connection
from playwright.sync_api import Browser, Page, expect

from chat import services
from chat.models import Thread
from engage import services as engage_services
from engage.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


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
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )

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


def _eventually(read, *, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    """Polls ``read()`` (a database read) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _visitor_thread(channel) -> Thread:  # type: ignore[no-untyped-def]
    """The thread of the visitor's first message, once that message is stored."""
    thread = _eventually(
        lambda: Thread.objects.filter(channel=channel, messages__author_type="customer").order_by("-pk").first()
    )
    assert thread is not None, "the visitor's first message never reached the server"
    return thread


def _off_the_loop(work):  # type: ignore[no-untyped-def]
    """Runs ``work`` in a thread of its own: Playwright's loop runs in the test's thread,
    and the services publish through async_to_sync, which refuses to run beside a loop."""

    def run():  # type: ignore[no-untyped-def]
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=30)


def _agent_says(thread: Thread, agent, text: str) -> None:  # type: ignore[no-untyped-def]
    _off_the_loop(
        lambda: services.message_create(thread=thread, author_type="agent", agent=agent, content={"text": text})
    )


def test_a_visitor_chats_with_an_agent_in_floating_mode_and_a_reload_keeps_it(acme, server: str, page: Page) -> None:
    page.goto(f"{server}/demo/")
    page.locator("parley-button").get_by_role("button", name="We're online").click()
    chat = page.locator("parley-chat")
    chat.get_by_role("button", name="New conversation").click()
    box = chat.get_by_role("textbox", name="Write a message…")
    box.fill("Is the kettle in stock?")
    box.press("Enter")

    expect(chat.locator(".msg.in .bubble")).to_have_text(["Is the kettle in stock?"])
    thread = _visitor_thread(acme.messaging)
    assert [m.content["text"] for m in thread.messages.order_by("sequence")] == ["Is the kettle in stock?"]
    _agent_says(thread, acme.alice, "Yes, twelve left.")
    expect(chat.locator(".msg.out .bubble")).to_have_text(["Yes, twelve left."])
    _shot(page, "floating-chat")

    page.reload()

    chat = page.locator("parley-chat")
    expect(chat.get_by_role("dialog")).to_be_visible()
    expect(chat.locator(".msg .bubble")).to_have_text(["Is the kettle in stock?", "Yes, twelve left."])
    assert Thread.objects.filter(channel=acme.messaging).count() == 1


def test_a_visitor_chats_in_embedded_mode(acme, server: str, page: Page) -> None:
    page.goto(f"{server}/demo/help/")

    chat = page.locator("#help-chat parley-chat")
    expect(chat.get_by_role("region")).to_be_visible()
    assert page.locator("parley-button").count() == 0
    chat.get_by_role("button", name="New conversation").click()
    box = chat.get_by_role("textbox", name="Write a message…")
    box.fill("Where is my order?")
    chat.get_by_role("button", name="Send").click()

    expect(chat.locator(".msg.in .bubble")).to_have_text(["Where is my order?"])
    _agent_says(_visitor_thread(acme.messaging), acme.bob, "It left our warehouse today.")
    expect(chat.locator(".msg.out .bubble")).to_have_text(["It left our warehouse today."])
    _shot(page, "embedded-chat")


def test_agent_content_is_rendered_as_text(acme, server: str, page: Page) -> None:
    page.goto(f"{server}/demo/")
    page.locator("parley-button").get_by_role("button").click()
    chat = page.locator("parley-chat")
    chat.get_by_role("button", name="New conversation").click()
    chat.get_by_role("textbox", name="Write a message…").fill("<b>hello</b>")
    chat.get_by_role("textbox", name="Write a message…").press("Enter")
    thread = _visitor_thread(acme.messaging)
    _agent_says(thread, acme.alice, '<img src=x onerror="window.pwned=1">')

    expect(chat.locator(".msg.out .bubble")).to_have_text(['<img src=x onerror="window.pwned=1">'])
    expect(chat.locator(".msg.in .bubble")).to_have_text(["<b>hello</b>"])
    assert chat.locator(".msg img, .msg b").count() == 0
    assert page.evaluate("window.pwned") is None


def _presence(member, presence: str) -> None:  # type: ignore[no-untyped-def]
    _off_the_loop(lambda: engage_services.membership_set_presence(membership=member, presence=presence))


def test_live_chat_pre_chat_form_queue_agent_joined_and_end(acme, server: str, page: Page) -> None:
    Membership.objects.filter(pk=acme.alice.pk).update(presence="available")
    page.goto(f"{server}/demo/live/")
    page.locator("parley-button").get_by_role("button", name="Chat with us").click()
    chat = page.locator("parley-chat")
    expect(chat.get_by_role("button", name="Start chat")).to_be_visible()
    # Alice steps away (without an event) while the visitor fills in the form: the chat must wait.
    Membership.objects.filter(pk=acme.alice.pk).update(presence="away")
    chat.get_by_label("Topic").select_option("order")
    chat.get_by_label("Order number").fill("A-1001")
    chat.get_by_label("Message", exact=True).fill("Where is my parcel?")
    chat.get_by_role("button", name="Start chat").click()

    expect(chat.get_by_text("You are number 1 in the queue.")).to_be_visible()
    thread = _visitor_thread(acme.live)
    contact = thread.contacts.get()
    assert contact.custom_fields == {"topic": "order", "order_number": "A-1001"}
    _presence(acme.alice, "available")
    expect(chat.get_by_text("Alice joined the chat.")).to_be_visible()
    expect(chat.get_by_text("You are number 1 in the queue.")).to_have_count(0)
    _agent_says(thread, acme.alice, "Let me look it up.")
    expect(chat.locator(".msg.out .bubble")).to_have_text(["Let me look it up."])

    chat.get_by_role("button", name="End chat").click()

    expect(chat.get_by_text("The chat has ended.")).to_be_visible()
    expect(chat.get_by_role("button", name="Start a new chat")).to_be_visible()
    assert _eventually(lambda: thread.contacts.get().status == "closed")
    _shot(page, "live-chat-ended")

    chat.get_by_role("button", name="Start a new chat").click()
    chat.get_by_role("button", name="Start chat").click()
    _say(chat, "One more question")

    assert _eventually(lambda: thread.contacts.count() == 2)
    assert Thread.objects.filter(channel=acme.live).count() == 1
    expect(chat.get_by_text("The chat has ended.")).to_have_count(0)


def test_live_chat_offers_the_offline_form_when_nobody_is_available(acme, server: str, page: Page) -> None:
    page.goto(f"{server}/demo/live/")
    page.locator("parley-button").get_by_role("button").click()
    chat = page.locator("parley-chat")
    chat.get_by_label("Name (required)").fill("John Ronald Tolkien")
    chat.get_by_label("E-mail (required)").fill("jrr@example.com")
    chat.get_by_label("Message (required)").fill("Please call me back.")
    chat.get_by_role("button", name="Send").click()

    expect(chat.get_by_role("status")).to_have_text("Thank you! We will get back to you.")


def test_the_chat_works_on_a_strict_csp_page(acme, server: str, page: Page) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.goto(f"{server}/demo/strict/")
    page.locator("parley-button").get_by_role("button").click()
    chat = page.locator("parley-chat")
    chat.get_by_role("button", name="New conversation").click()
    chat.get_by_role("textbox", name="Write a message…").fill("Hello from a strict page")
    chat.get_by_role("textbox", name="Write a message…").press("Enter")

    _agent_says(_visitor_thread(acme.messaging), acme.alice, "Hello back")

    expect(chat.locator(".msg.out .bubble")).to_have_text(["Hello back"])
    assert chat.locator("header").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(47, 93, 138)"
    assert violations == []


def test_page_api_registers_the_visitor(acme, server: str, page: Page) -> None:
    page.goto(f"{server}/demo/")
    page.wait_for_function("() => typeof window.parley === 'function'")
    page.evaluate(
        """() => {
          parley('identify', {name: 'Jane Q Public', email: 'jane@example.com'});
          parley('set', 'cart_total', 42);
          parley('open');
        }"""
    )
    chat = page.locator("parley-chat")
    chat.get_by_role("button", name="New conversation").click()
    chat.get_by_role("textbox", name="Write a message…").fill("Hi")
    chat.get_by_role("textbox", name="Write a message…").press("Enter")

    customer = _visitor_thread(acme.messaging).customer
    # The names travel with the identity and may land a moment after the first message.
    _eventually(lambda: type(customer).objects.filter(pk=customer.pk, first_name="Jane").exists())
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Jane", "Q Public")
    assert customer.extra == {"cart_total": "42", "email": "jane@example.com"}
    assert customer.is_verified is False


def _open_new_conversation(page: Page, server: str, path: str = "/demo/"):  # type: ignore[no-untyped-def]
    page.goto(f"{server}{path}")
    page.locator("parley-button").get_by_role("button").click()
    chat = page.locator("parley-chat")
    chat.get_by_role("button", name="New conversation").click()
    return chat


def _say(chat, text: str) -> None:  # type: ignore[no-untyped-def]
    box = chat.get_by_role("textbox", name="Write a message…")
    box.fill(text)
    box.press("Enter")


def test_multi_thread_list_new_rename_and_archive(acme, server: str, page: Page) -> None:
    chat = _open_new_conversation(page, server)
    _say(chat, "About the kettle")
    first = _visitor_thread(acme.messaging)
    chat.get_by_role("button", name="Back to conversations").click()
    chat.get_by_role("button", name="Rename: Conversation").click()
    chat.get_by_role("textbox", name="Name of the conversation").fill("Kettle question")
    chat.get_by_role("button", name="Rename", exact=True).click()
    expect(chat.get_by_role("button", name="Kettle question", exact=True)).to_be_visible()
    chat.get_by_role("button", name="New conversation").click()
    # Type only once the new, empty conversation is on screen (the view is rebuilt).
    expect(chat.locator(".msg.in")).to_have_count(0)
    expect(chat.get_by_role("textbox", name="Write a message…")).to_be_visible()
    _say(chat, "About the mugs")
    expect(chat.locator(".msg.in .bubble")).to_have_text(["About the mugs"])
    assert _eventually(
        lambda: Thread.objects.filter(channel=acme.messaging, messages__isnull=False).distinct().count() == 2
    )

    chat.get_by_role("button", name="Back to conversations").click()
    chat.get_by_role("button", name="Archive: Kettle question").click()

    expect(chat.get_by_role("button", name="Kettle question (Archived)")).to_be_visible()
    first.refresh_from_db()
    assert (first.name, first.is_archived) == ("Kettle question", True)
    chat.get_by_role("button", name="Kettle question (Archived)").click()
    expect(chat.locator(".msg.in .bubble")).to_have_text(["About the kettle"])


def test_typing_both_ways_and_delivery_marks(acme, server: str, page: Page, published) -> None:  # type: ignore[no-untyped-def]
    chat = _open_new_conversation(page, server)
    _say(chat, "Hello?")
    thread = _visitor_thread(acme.messaging)
    expect(chat.locator(".msg.in .meta")).to_have_attribute("data-status", "sent")

    _off_the_loop(lambda: services.typing_set(thread=thread, actor="agent", is_typing=True, agent=acme.alice))
    expect(chat.get_by_text("Alice is typing…")).to_be_visible()
    _off_the_loop(lambda: services.messages_mark_seen(thread=thread, reader="agent"))
    expect(chat.locator(".msg.in .meta")).to_have_attribute("data-status", "seen")
    _agent_says(thread, acme.alice, "Hi there")
    expect(chat.get_by_text("Alice is typing…")).to_have_count(0)
    # The window is open, so the visitor has seen the agent's message.
    assert _eventually(lambda: thread.messages.get(author_type="agent").seen_at is not None)

    chat.get_by_role("textbox", name="Write a message…").press_sequentially("How", delay=20)

    assert _eventually(
        lambda: [(e.actor, e.is_typing) for e in published if e.name == "typing.changed" and e.actor == "customer"][:1]
    ) == [("customer", True)]


def test_an_image_attachment_is_uploaded_and_shown(acme, server: str, page: Page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    image = tmp_path / "cup.png"
    image.write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a3e1b2d60000000049454e44ae426082"
        )
    )
    chat = _open_new_conversation(page, server)
    _say(chat, "Here is a photo")
    thread = _visitor_thread(acme.messaging)

    chat.locator("input[type=file]").set_input_files(str(image))

    expect(chat.locator(".msg.in img")).to_have_attribute("alt", "cup.png")
    message = _eventually(lambda: thread.messages.filter(attachments__isnull=False).first())
    assert [a.file_name for a in message.attachments.all()] == ["cup.png"]


def test_quick_replies_answer_with_their_postback(acme, server: str, page: Page) -> None:
    chat = _open_new_conversation(page, server)
    _say(chat, "I need help")
    thread = _visitor_thread(acme.messaging)
    _off_the_loop(
        lambda: services.message_create(
            thread=thread,
            author_type="agent",
            agent=acme.alice,
            content_type="QUICK_REPLIES",
            content={
                "payload": {
                    "text": {"content": "What about?"},
                    "actions": [
                        {"type": "REPLY_BUTTON", "text": "My order", "postback": "TOPIC_ORDER"},
                        {"type": "REPLY_BUTTON", "text": "A product", "postback": "TOPIC_PRODUCT"},
                    ],
                }
            },
        )
    )

    chat.get_by_role("button", name="My order").click()

    reply = _eventually(lambda: thread.messages.filter(author_type="customer").order_by("-sequence").first())
    assert _eventually(lambda: thread.messages.filter(author_type="customer").count() == 2)
    reply = thread.messages.filter(author_type="customer").order_by("-sequence").first()
    assert (reply.content["text"], reply.content["postback"]) == ("My order", "TOPIC_ORDER")
    expect(chat.get_by_role("button", name="A product")).to_be_disabled()


def test_a_company_managed_id_needs_a_signed_token(acme, server: str, page: Page) -> None:
    acme.messaging.auth_mode = "thirdParty"  # the gateway takes signed ids on third-party channels
    acme.messaging.save(update_fields=["auth_mode"])
    token = jwt.encode(
        {"sub": "crm-42", "exp": int(time.time()) + 600, "given_name": "Carla"},
        acme.messaging.identity_secret,
        algorithm="HS256",
    )
    page.goto(f"{server}/demo/")
    page.wait_for_function("() => typeof window.parley === 'function'")
    page.evaluate("token => parley('identify', {customerId: 'crm-42', token: token})", token)
    page.evaluate("() => parley('open')")
    chat = page.locator("parley-chat")
    chat.get_by_role("button", name="New conversation").click()
    _say(chat, "Signed in")

    customer = _visitor_thread(acme.messaging).customer
    assert (customer.id_on_external_platform, customer.is_verified) == ("crm-42", True)
    stored = page.evaluate("() => JSON.stringify(Object.entries(localStorage))")
    assert "crm-42" not in stored
    assert token not in stored


def test_an_unsigned_company_id_is_ignored(acme, server: str, page: Page) -> None:
    page.goto(f"{server}/demo/")
    page.wait_for_function("() => typeof window.parley === 'function'")
    page.evaluate("() => { parley('identify', {customerId: 'crm-42'}); parley('open'); }")
    chat = page.locator("parley-chat")
    chat.get_by_role("button", name="New conversation").click()
    _say(chat, "Who am I?")

    customer = _visitor_thread(acme.messaging).customer
    assert customer.id_on_external_platform != "crm-42"
    assert customer.is_verified is False
    assert "Parley: a customerId needs a server-signed token (JWT); both were not given." in _console(page)


def test_minimised_chat_stays_minimised_after_reload_and_escape_returns_focus(acme, server: str, page: Page) -> None:
    chat = _open_new_conversation(page, server)
    _say(chat, "Remember me")
    _visitor_thread(acme.messaging)

    chat.get_by_role("textbox", name="Write a message…").press("Escape")

    expect(chat.get_by_role("dialog")).to_be_hidden()
    launcher = chat.locator("button.launcher")
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    page.reload()
    chat = page.locator("parley-chat")
    expect(chat.locator("button.launcher")).to_be_visible()
    expect(chat.get_by_role("dialog")).to_be_hidden()
    assert page.locator("parley-button").count() == 0
    chat.locator("button.launcher").click()
    expect(chat.locator(".msg.in .bubble")).to_have_text(["Remember me"])


def test_a_second_tab_continues_the_conversation(acme, server: str, page: Page) -> None:
    chat = _open_new_conversation(page, server)
    _say(chat, "Tab one here")
    thread = _visitor_thread(acme.messaging)
    other = page.context.new_page()
    other.goto(f"{server}/demo/products/teapot/")
    other_chat = other.locator("parley-chat")
    expect(other_chat.locator(".msg.in .bubble")).to_have_text(["Tab one here"])

    _agent_says(thread, acme.alice, "Hello to both tabs")

    expect(chat.locator(".msg.out .bubble")).to_have_text(["Hello to both tabs"])
    expect(other_chat.locator(".msg.out .bubble")).to_have_text(["Hello to both tabs"])


def test_a_secured_cookie_session_keeps_the_identity_out_of_local_storage(acme, server: str, page: Page) -> None:
    acme.messaging.auth_mode = "securedCookies"
    acme.messaging.save(update_fields=["auth_mode"])
    chat = _open_new_conversation(page, server)
    _say(chat, "Cookie session")
    customer = _visitor_thread(acme.messaging).customer

    page.reload()

    expect(page.locator("parley-chat").locator(".msg.in .bubble")).to_have_text(["Cookie session"])
    stored = page.evaluate("() => JSON.stringify(Object.entries(localStorage))")
    assert customer.id_on_external_platform not in stored
    assert "customer" not in [key.rsplit(".", 1)[-1] for key in page.evaluate("() => Object.keys(localStorage)")]
    cookies = [c for c in page.context.cookies() if c["httpOnly"]]
    assert len(cookies) == 1
