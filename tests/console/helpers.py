"""Shared helpers of the console and API tests."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from chat import services
from chat.models import Contact, Customer
from engage.asgi import application
from engage.models import Channel, Membership


def waiting_contact(cast, customer_id: str, *, channel: Channel | None = None, text: str = "hello") -> Contact:  # type: ignore[no-untyped-def]
    """A customer writes their first message: a new contact waits in the queue."""
    customer: Customer = services.customer_identify(brand=cast.brand, id_on_external_platform=customer_id)
    thread, _ = services.thread_get_or_create(channel=channel or cast.messaging, customer=customer)
    result = services.message_create(
        thread=thread, author_type="customer", content={"text": text}, client_id=f"{customer_id}-1"
    )
    return result.message.contact


def set_presence(member: Membership, presence: str, capacity: int | None = None) -> Membership:
    """Sets presence directly, without routing (for arranging a scene)."""
    member.presence = presence
    if capacity is not None:
        member.max_concurrent_contacts = capacity
    member.save(update_fields=["presence", "max_concurrent_contacts"])
    return member


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def console_socket(
    user: Any = None, *, path: str = "/ws/console", origin: str = "http://testserver"
) -> tuple[WebsocketCommunicator, bool, int | None]:
    """A console socket opened by ``user`` (logged in through a session cookie; None: anonymous)."""
    headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def welcomed_console(user: Any) -> WebsocketCommunicator:
    """A console socket of ``user``, connected and past its welcome frame."""
    communicator, connected, _ = await console_socket(user)
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "welcome"
    return communicator


async def answer_to(communicator: WebsocketCommunicator, ref: Any) -> dict[str, Any]:
    """The ``sent`` or ``error`` frame answering ``ref`` (pushes may come first)."""
    for _ in range(20):
        frame = await communicator.receive_json_from(timeout=5)
        if frame["type"] in ("sent", "error") and frame.get("ref") == ref:
            return frame  # type: ignore[no-any-return]
    raise AssertionError(f"no answer to {ref}")
