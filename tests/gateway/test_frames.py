"""Malformed, unknown and oversized frames: always an error frame, never silence or a crash."""

from __future__ import annotations

import json

import pytest

from chat.gateway.protocol import MAX_INBOUND_FRAME_BYTES

pytestmark = pytest.mark.django_db(transaction=True)


async def test_malformed_frames_get_error_frames_and_the_socket_stays_usable(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    cases = {
        "not json": "malformed_frame",
        "[1, 2]": "malformed_frame",
        '"pong"': "malformed_frame",
        json.dumps({"action": "chatWindowEvent", "payload": {"eventType": "FetchThreadList"}}): "malformed_frame",
        json.dumps({"action": "chatWindowEvent", "eventId": "e1"}): "malformed_frame",
        json.dumps(
            {"action": "chatWindowEvent", "eventId": "e2", "payload": {"eventType": "X", "data": []}}
        ): "malformed_frame",
        json.dumps({"action": "dance", "eventId": "e3", "payload": {"eventType": "FetchThreadList"}}): "unknown_action",
        json.dumps(
            {"action": "chatWindowEvent", "eventId": "e4", "payload": {"eventType": "Teleport"}}
        ): "unknown_event_type",
    }
    for text, reason in cases.items():
        await visitor.communicator.send_to(text_data=text)
        frame = await visitor.receive()
        assert frame["error"]["reason"] == reason, text
        assert frame["error"]["errorMessage"]
        assert frame["error"]["transactionId"]
        assert isinstance(frame["eventId"], str) and frame["eventId"]
        assert "postback" not in frame and "data" not in frame
    assert (await visitor.request("Teleport", {}))["error"]["errorCode"] == "InconsistentData"
    await visitor.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await visitor.receive())["error"]["reason"] == "binary_frame"
    answer = await visitor.request("FetchThreadList", {})
    assert answer["postback"] == {"eventType": "ThreadListFetched", "data": {"threads": []}}


async def test_oversized_frames_are_refused_unread(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    huge = json.dumps(
        {
            "action": "chatWindowEvent",
            "eventId": "big",
            "payload": {"eventType": "SendMessage", "data": {"x": "y" * MAX_INBOUND_FRAME_BYTES}},
        }
    )
    await visitor.communicator.send_to(text_data=huge)
    frame = await visitor.receive()
    assert frame["error"]["reason"] == "frame_too_large"


async def test_wrong_shapes_inside_requests_are_error_frames(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    bad_requests = [
        ("SendMessage", {"messageContent": {"type": "TEXT", "payload": {"text": "x"}}}),
        ("SendMessage", {"thread": {"idOnExternalPlatform": "t"}, "messageContent": "x"}),
        ("SendMessage", {"thread": {"idOnExternalPlatform": "t"}, "messageContent": {"type": "ADAPTIVE_CARD"}}),
        (
            "SendMessage",
            {"thread": {"idOnExternalPlatform": "t"}, "messageContent": {"type": "TEXT", "payload": {"text": ""}}},
        ),
        (
            "SendMessage",
            {"thread": {"idOnExternalPlatform": "t"}, "messageContent": {"type": "TEXT", "payload": {"text": 5}}},
        ),
        (
            "SendMessage",
            {
                "thread": {"idOnExternalPlatform": "t" * 300},
                "messageContent": {"type": "TEXT", "payload": {"text": "x"}},
            },
        ),
        ("LoadMoreMessages", {"thread": {"idOnExternalPlatform": "t"}, "scrollToken": "abc"}),
        ("UpdateThread", {"thread": {"idOnExternalPlatform": "t", "threadName": 5}}),
        ("SetConsumerCustomFields", {"customFields": "x"}),
        ("SendPageViews", {"pageViews": "x"}),
        ("SenderTypingStarted", {}),
    ]
    for event_type, data in bad_requests:
        answer = await visitor.request(event_type, data)
        assert "error" in answer, (event_type, data)
        assert answer["error"]["reason"] in {"invalid_input", "invalid_content", "thread_not_found"}, answer


async def test_requests_past_the_rate_limit_get_error_frames(acme, visitor_socket, settings):  # type: ignore[no-untyped-def]
    from channels.db import database_sync_to_async

    from chat.models import Thread

    settings.PARLEY_GATEWAY_RATE_LIMIT = (3, 60.0)
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    for _ in range(3):
        assert "error" not in await visitor.request("FetchThreadList", {})
    data = {"thread": {"idOnExternalPlatform": "t"}, "messageContent": {"type": "TEXT", "payload": {"text": "x"}}}
    limited = await visitor.request("SendMessage", data)
    assert limited["error"]["reason"] == "rate_limited"
    assert limited["error"]["errorCode"] == "SendingMessageFailed"
    await visitor.communicator.send_to(text_data='{"action":"heartbeat"}')
    assert await visitor.communicator.receive_from() == '"pong"'
    assert await database_sync_to_async(Thread.objects.count)() == 0
