"""Helpers for the visitor gateway tests: sockets speaking the CXone protocol to engage.asgi."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from chat.gateway.tokens import token_issue
from chat.models import Customer
from engage.models import Channel

TIMEOUT = 5


def socket_path(channel: Channel, **query: str) -> str:
    params = {"v": "0", "sdkPlatform": "web", "sdkVersion": "2.2.0", "brandId": query.pop("brandId")}
    params["channelId"] = channel.channel_id
    params.update(query)
    return "/ws/visitor?" + urlencode(params)


def transaction_token(channel: Channel, customer: Customer) -> str:
    return token_issue(kind="transaction", channel_pk=channel.pk, customer_pk=customer.pk).token


class Visitor:
    """A WebsocketCommunicator with the SDK's envelope."""

    def __init__(self, communicator: WebsocketCommunicator, channel: Channel, brand_id: int) -> None:
        self.communicator = communicator
        self.channel = channel
        self.brand_id = brand_id

    async def send(self, event_type: str, data: dict[str, Any] | None = None, **extra: Any) -> str:
        event_id = extra.pop("event_id", None) or str(uuid.uuid4())
        payload = {
            "eventType": event_type,
            "brand": {"id": self.brand_id},
            "channel": {"id": self.channel.channel_id},
            "consumerIdentity": extra.pop("identity", {"idOnExternalPlatform": "ignored"}),
            "data": data if data is not None else {},
            "destination": {},
            "visitor": {},
            "visit": {},
        }
        frame = {"action": extra.pop("action", "chatWindowEvent"), "eventId": event_id, "payload": payload}
        await self.communicator.send_to(text_data=json.dumps(frame))
        return event_id

    async def receive(self, timeout: float = TIMEOUT) -> Any:
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def answer(self, event_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Skips pushes until the frame answering ``event_id``; returns it."""
        while True:
            frame = await self.receive(timeout)
            if isinstance(frame, dict) and frame.get("eventId") == event_id:
                return frame

    async def request(self, event_type: str, data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        return await self.answer(await self.send(event_type, data, **extra))

    async def push(self, event_type: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Skips frames until a push of ``event_type``; returns it."""
        while True:
            frame = await self.receive(timeout)
            if isinstance(frame, dict) and frame.get("eventType") == event_type:
                return frame

    async def pushes(self, timeout: float = 0.3) -> list[dict[str, Any]]:
        """Every frame until the socket is quiet for ``timeout`` seconds."""
        frames = []
        while not await self.communicator.receive_nothing(timeout=timeout):
            frames.append(await self.receive())
        return frames

    async def close(self) -> None:
        await self.communicator.disconnect()


async def open_socket(
    channel: Channel, *, customer: Customer | None = None, origin: str | None = None, **query: str
) -> tuple[bool, Visitor]:
    from engage.asgi import application

    if customer is not None and "transactionToken" not in query:
        query["transactionToken"] = transaction_token(channel, customer)
    query.setdefault("visitorId", "")
    brand_id = await sync_to_async(lambda: channel.brand.brand_id)()
    query.setdefault("brandId", str(brand_id))
    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(application, socket_path(channel, **query), headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    return connected, Visitor(communicator, channel, brand_id)


@pytest.fixture(autouse=True)
def _private_cache(settings):  # type: ignore[no-untyped-def]
    """Queue positions are cached by contact id; a cache shared with other test runs would mix them up."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "gateway"}}


@pytest.fixture
async def visitor_socket():  # type: ignore[no-untyped-def]
    opened: list[Visitor] = []

    async def factory(channel: Channel, **kwargs: Any) -> Visitor:
        connected, visitor = await open_socket(channel, **kwargs)
        assert connected, "the gateway refused the connection"
        opened.append(visitor)
        return visitor

    yield factory
    for visitor in opened:
        await visitor.close()
