"""Routing meets the visitor protocol: waiting live-chat visitors learn their place in line."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat import assignment
from chat.models import Contact
from engage.asgi import application
from engage.models import Channel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _own_cache(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"console-test-{uuid.uuid4().hex}"}}


async def _visitor(customer_id: str) -> WebsocketCommunicator:
    path = (
        "/ws/visitor?v=0&sdkPlatform=web&sdkVersion=2.2.0&brandId=1001&channelId=chat_live"
        f"&customerId={customer_id}&visitorId=v-{customer_id}"
    )
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect()
    assert connected
    await _request(
        communicator, customer_id, "AuthorizeCustomer", {"authorization": {"authorizationCode": None}}, "register"
    )
    return communicator


async def _request(
    communicator, customer_id: str, event_type: str, data: dict, action: str = "chatWindowEvent"
) -> dict:
    event_id = str(uuid.uuid4())
    await communicator.send_json_to(
        {
            "action": action,
            "eventId": event_id,
            "payload": {
                "eventType": event_type,
                "brand": {"id": 1001},
                "channel": {"id": "chat_live"},
                "consumerIdentity": {"idOnExternalPlatform": customer_id},
                "data": data,
                "destination": {},
                "visitor": {},
                "visit": {},
            },
        }
    )
    for _ in range(20):
        frame = json.loads(await communicator.receive_from(timeout=5))
        if isinstance(frame, dict) and frame.get("eventId") == event_id:
            return frame
    raise AssertionError(f"no answer to {event_type}")


async def _positions(communicator, *, count: int) -> list[int]:
    found: list[int] = []
    while len(found) < count:
        frame = json.loads(await communicator.receive_from(timeout=5))
        if isinstance(frame, dict) and frame.get("eventType") == "SetPositionInQueue":
            found.append(frame["data"]["positionInQueue"])
    return found


async def _say(communicator, customer_id: str, text: str) -> None:
    answer = await _request(
        communicator,
        customer_id,
        "SendMessage",
        {
            "messageContent": {"type": "TEXT", "payload": {"text": text}},
            "idOnExternalPlatform": str(uuid.uuid4()),
            "thread": {"idOnExternalPlatform": f"thread-{customer_id}"},
            "consumer": {"customFields": []},
            "consumerContact": {"customFields": []},
            "attachments": [],
        },
    )
    assert "error" not in answer, answer


async def test_waiting_visitors_receive_their_place_as_the_queue_moves(acme):
    await database_sync_to_async(Channel.objects.filter(channel_id="chat_live").update)(auth_mode="none")
    first = await _visitor("first")
    await _say(first, "first", "hello")
    assert await _positions(first, count=1) == [1]
    second = await _visitor("second")
    await _say(second, "second", "me too")
    assert await _positions(second, count=1) == [2]

    # An agent takes the first visitor: the second moves up to place 1.
    contact = await database_sync_to_async(Contact.objects.get)(thread__customer__id_on_external_platform="first")
    await database_sync_to_async(assignment.contact_pick)(contact=contact, agent=acme.alice)
    assert await _positions(second, count=1) == [1]
    await first.disconnect()
    await second.disconnect()
