"""The visitor socket in messaging mode: every request a messaging client sends, and the pushes it gets."""

from __future__ import annotations

import gc
import json

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.models import Attachment, Contact, Message, Thread
from engage.models import Channel
from tests.collector import cyclic_garbage
from tests.gateway.conftest import open_socket

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def text(body: str, **extra):  # type: ignore[no-untyped-def]
    return {"messageContent": {"type": "TEXT", "payload": {"text": body}}, **extra}


def send_data(thread_id: str, body: str, message_id: str, **extra):  # type: ignore[no-untyped-def]
    return text(body, idOnExternalPlatform=message_id, thread={"idOnExternalPlatform": thread_id}, **extra)


@db
def agent_reply(thread_public_id: str, body: str, agent, **kwargs):  # type: ignore[no-untyped-def]
    thread = Thread.objects.get(public_id=thread_public_id)
    return services.message_create(thread=thread, author_type="agent", agent=agent, content={"text": body}, **kwargs)


async def test_first_message_is_acked_then_case_and_message_are_pushed(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    event_id = await visitor.send("SendMessage", send_data("thread-A", "hello", "msg-1"))
    assert await visitor.receive() == {"eventId": event_id}
    case = await visitor.receive()
    assert case["eventType"] == "CaseCreated"
    assert case["eventObject"] == "Case"
    assert case["data"]["case"]["threadIdOnExternalPlatform"] == "thread-A"
    assert case["data"]["case"]["status"] == "new"
    assert isinstance(case["data"]["case"]["id"], str)
    assert case["data"]["thread"]["idOnExternalPlatform"] == "thread-A"
    created = await visitor.receive()
    assert created["eventType"] == "MessageCreated"
    message = created["data"]["message"]
    assert message["idOnExternalPlatform"] == "msg-1"
    assert message["threadIdOnExternalPlatform"] == "thread-A"
    assert message["direction"] == "inbound"
    assert message["messageContent"]["type"] == "TEXT"
    assert message["messageContent"]["payload"] == {"text": "hello"}
    assert message["sequence"] == 1
    assert message["authorEndUserIdentity"]["idOnExternalPlatform"] == "acme-visitor-1"
    assert message["attachments"] == []
    assert created["data"]["case"]["id"] == case["data"]["case"]["id"]
    stored = await db(Message.objects.select_related("thread__customer").get)()
    assert (stored.client_id, stored.thread.customer_id, stored.text) == ("msg-1", acme.visitor.pk, "hello")


async def test_retried_send_with_the_same_id_never_duplicates(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "hello", "msg-1"))
    await visitor.push("MessageCreated")
    again = await visitor.request("SendMessage", send_data("thread-A", "hello", "msg-1"))
    assert "error" not in again
    assert await visitor.pushes() == []
    assert await db(Message.objects.count)() == 1


async def _conversation_on_one_socket(acme, thread_id: str) -> None:  # type: ignore[no-untyped-def]
    connected, visitor = await open_socket(acme.messaging, customer=acme.visitor)
    assert connected
    await visitor.request("SendMessage", send_data(thread_id, "hello", f"{thread_id}-1"))  # in a worker
    await visitor.request("SendMessage", send_data(thread_id, "again", f"{thread_id}-2"))  # in the loop
    await agent_reply(thread_id, "hi", acme.alice)
    texts = [
        frame["data"]["message"]["messageContent"]["payload"]["text"]
        for frame in await visitor.pushes()
        if frame.get("eventType") == "MessageCreated"
    ]
    assert texts[-1] == "hi"
    recovered = await visitor.request("RecoverThread", {"thread": {"idOnExternalPlatform": thread_id}})
    assert [message["messageContent"]["payload"]["text"] for message in recovered["postback"]["data"]["messages"]] == [
        "hi",
        "again",
        "hello",
    ]
    await visitor.close()


async def test_a_closed_socket_is_freed_without_the_cycle_collector(acme):  # type: ignore[no-untyped-def]
    """A full collection pauses the whole process for as long as it walks the heap: a socket's
    life must leave it nothing to find (docs/performance.md, "Full collections")."""
    await _conversation_on_one_socket(acme, "thread-first")  # first use fills caches
    gc.collect()
    await _conversation_on_one_socket(acme, "thread-second")
    assert cyclic_garbage() == []  # no socket, state, model or recovered page


async def test_agent_reply_reaches_every_tab_but_internal_notes_never(acme, visitor_socket):  # type: ignore[no-untyped-def]
    first = await visitor_socket(acme.messaging, customer=acme.visitor)
    await first.request("SendMessage", send_data("thread-A", "hello", "msg-1"))
    await first.push("MessageCreated")
    second = await visitor_socket(acme.messaging, customer=acme.visitor)
    await agent_reply("thread-A", "internal: VIP customer", acme.alice, is_internal=True)
    await agent_reply("thread-A", "Hi, Alice here", acme.alice)
    for tab in (first, second):
        pushed = await tab.pushes()
        assert [frame["eventType"] for frame in pushed] == ["MessageCreated"]
        message = pushed[0]["data"]["message"]
        assert message["direction"] == "outbound"
        assert message["messageContent"]["payload"]["text"] == "Hi, Alice here"
        assert message["authorUser"]["firstName"] == "Alice"
        assert message["authorUser"]["emailAddress"] == ""
        assert message["sequence"] == 3
        assert "VIP" not in json.dumps(pushed)


async def test_threads_started_later_on_another_tab_reach_every_tab_of_the_channel(acme, visitor_socket):  # type: ignore[no-untyped-def]
    first = await visitor_socket(acme.messaging, customer=acme.visitor)
    second = await visitor_socket(acme.messaging, customer=acme.visitor)
    other_channel = await visitor_socket(acme.live, customer=acme.visitor)
    await second.request("SendMessage", send_data("thread-B", "from the second tab", "msg-1"))
    await agent_reply("thread-B", "internal: second tab", acme.alice, is_internal=True)
    await agent_reply("thread-B", "answer", acme.alice)
    for tab in (first, second):
        pushed = await tab.pushes()
        assert [frame["eventType"] for frame in pushed] == ["CaseCreated", "MessageCreated", "MessageCreated"]
        assert [frame["data"]["message"]["messageContent"]["payload"]["text"] for frame in pushed[1:]] == [
            "from the second tab",
            "answer",
        ]
        assert {frame["data"]["thread"]["idOnExternalPlatform"] for frame in pushed} == {"thread-B"}
    # The same customer's socket on another channel of the brand hears nothing of this channel's threads.
    assert await other_channel.pushes() == []


async def test_recover_returns_newest_first_and_pages_back(acme, visitor_socket, settings):  # type: ignore[no-untyped-def]
    settings.PARLEY_GATEWAY_PAGE_SIZE = 2
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    for number in range(1, 6):
        await visitor.request("SendMessage", send_data("thread-A", f"m{number}", f"msg-{number}"))
    await agent_reply("thread-A", "secret note", acme.alice, is_internal=True)
    recovered = await visitor.request("RecoverThread", {"thread": {"idOnExternalPlatform": "thread-A"}})
    data = recovered["postback"]["data"]
    assert recovered["postback"]["eventType"] == "ThreadRecovered"
    assert "data" not in recovered and "error" not in recovered
    assert [m["messageContent"]["payload"]["text"] for m in data["messages"]] == ["m5", "m4"]
    assert data["messagesScrollToken"] == "4"
    assert data["thread"]["idOnExternalPlatform"] == "thread-A"
    assert data["contact"]["status"] == "new"
    assert data["contactHistory"] == []
    assert data["customer"]["firstName"] == "Vera"
    page = await visitor.request(
        "LoadMoreMessages",
        {"scrollToken": "4", "oldestMessageDatetime": "", "thread": {"idOnExternalPlatform": "thread-A"}},
    )
    assert page["postback"]["eventType"] == "MoreMessagesLoaded"
    assert [m["messageContent"]["payload"]["text"] for m in page["postback"]["data"]["messages"]] == ["m3", "m2"]
    assert page["postback"]["data"]["scrollToken"] == "2"
    last = await visitor.request(
        "LoadMoreMessages", {"scrollToken": "2", "thread": {"idOnExternalPlatform": "thread-A"}}
    )
    assert [m["messageContent"]["payload"]["text"] for m in last["postback"]["data"]["messages"]] == ["m1"]
    assert last["postback"]["data"]["scrollToken"] == ""


async def test_resync_after_a_sequence(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "m1", "msg-1"))
    await visitor.close()
    await agent_reply("thread-A", "while you were away", acme.alice)
    await agent_reply("thread-A", "still there?", acme.alice)
    back = await visitor_socket(acme.messaging, customer=acme.visitor)
    data = (await back.request("RecoverThread", {"thread": {"idOnExternalPlatform": "thread-A"}, "sinceSequence": 1}))[
        "postback"
    ]["data"]
    assert [m["sequence"] for m in data["messages"]] == [3, 2]
    assert data["lastSequence"] == 3


async def test_recover_without_id_picks_the_latest_thread_and_errors_without_any(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    error = await visitor.request("RecoverThread", {})
    assert error["error"]["errorCode"] == "RecoveringThreadFailed"
    assert error["error"]["reason"] == "thread_not_found"
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    await visitor.request("SendMessage", send_data("thread-B", "b", "msg-2"))
    recovered = await visitor.request("RecoverThread", {})
    assert recovered["postback"]["data"]["thread"]["idOnExternalPlatform"] == "thread-B"
    unknown = await visitor.request("RecoverThread", {"thread": {"idOnExternalPlatform": "nope"}})
    assert unknown["error"]["errorCode"] == "RecoveringThreadFailed"


async def test_thread_list_rename_archive_and_metadata(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    await visitor.request("SendMessage", send_data("thread-B", "b", "msg-2"))
    renamed = await visitor.request(
        "UpdateThread", {"thread": {"idOnExternalPlatform": "thread-A", "threadName": "Order 42"}}
    )
    assert renamed["postback"]["eventType"] == "ThreadUpdated"
    assert renamed["postback"]["data"]["thread"]["threadName"] == "Order 42"
    pushed = await visitor.push("ThreadUpdated")
    assert pushed["data"]["thread"]["threadName"] == "Order 42"
    archived = await visitor.request("ArchiveThread", {"thread": {"idOnExternalPlatform": "thread-B"}})
    assert archived["postback"] == {"eventType": "ThreadArchived", "data": {}}
    assert (await visitor.push("ThreadArchived"))["data"]["thread"]["canAddMoreMessages"] is False
    listed = await visitor.request("FetchThreadList", {})
    threads = {t["idOnExternalPlatform"]: t for t in listed["postback"]["data"]["threads"]}
    assert set(threads) == {"thread-A", "thread-B"}
    assert threads["thread-A"]["threadName"] == "Order 42"
    assert threads["thread-A"]["canAddMoreMessages"] is True
    assert threads["thread-B"]["canAddMoreMessages"] is False
    assert threads["thread-A"]["channelId"] == "chat_msg"
    metadata = await visitor.request("LoadThreadMetadata", {"thread": {"idOnExternalPlatform": "thread-A"}})
    assert metadata["postback"]["eventType"] == "ThreadMetadataLoaded"
    assert metadata["postback"]["data"]["lastMessage"]["idOnExternalPlatform"] == "msg-1"
    assert metadata["postback"]["data"]["ownerAssignee"] is None


async def test_typing_both_ways(acme, visitor_socket, published):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    await visitor.pushes()
    started = await visitor.request("SenderTypingStarted", {"thread": {"idOnExternalPlatform": "thread-A"}})
    assert started == {"eventId": started["eventId"]}
    ended = await visitor.request("SenderTypingEnded", {"thread": {"idOnExternalPlatform": "thread-A"}})
    assert "error" not in ended
    typing = [(e.actor, e.is_typing) for e in published if e.name == "typing.changed"]
    assert typing == [("customer", True), ("customer", False)]
    assert await visitor.pushes() == []  # the visitor's own typing is not echoed
    thread = await db(Thread.objects.get)(public_id="thread-A")
    await db(services.typing_set)(thread=thread, actor="agent", is_typing=True, agent=acme.alice)
    push = await visitor.push("SenderTypingStarted")
    assert push["data"]["direction"] == "outbound"
    assert push["data"]["thread"]["idOnExternalPlatform"] == "thread-A"
    assert push["data"]["user"]["firstName"] == "Alice"
    await db(services.typing_set)(thread=thread, actor="agent", is_typing=False, agent=acme.alice)
    assert (await visitor.push("SenderTypingEnded"))["data"]["direction"] == "outbound"


async def test_receipts_both_ways(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    reply = await agent_reply("thread-A", "hello", acme.alice)
    await visitor.pushes()
    seen = await visitor.request("MessageSeenByConsumer", {"thread": {"idOnExternalPlatform": "thread-A"}})
    assert seen == {"eventId": seen["eventId"]}
    stored = await db(Message.objects.get)(pk=reply.message.pk)
    assert stored.seen_at is not None and stored.delivered_at is not None
    thread = await db(Thread.objects.get)(public_id="thread-A")
    await db(services.messages_mark_delivered)(thread=thread, reader="agent")
    delivered = await visitor.push("MessageDeliveredToUser")
    assert delivered["data"]["message"]["idOnExternalPlatform"] == "msg-1"
    assert delivered["data"]["messageDelivered"]["deliveredAt"]
    await db(services.messages_mark_seen)(thread=thread, reader="agent")
    read = await visitor.push("MessageReadChanged")
    assert read["data"]["message"]["idOnExternalPlatform"] == "msg-1"
    assert read["data"]["message"]["userStatistics"]["readAt"]
    assert read["data"]["message"]["threadIdOnExternalPlatform"] == "thread-A"
    seen_push = await visitor.push("MessageSeenByUser")
    assert seen_push["data"]["messageSeen"]["seenAt"] == read["data"]["message"]["userStatistics"]["readAt"]


async def test_custom_fields_in_the_first_message_and_later(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    first = send_data(
        "thread-A",
        "a",
        "msg-1",
        consumer={"customFields": [{"ident": "email", "value": "vera@example.com"}]},
        consumerContact={"customFields": [{"ident": "order_number", "value": "42"}]},
    )
    await visitor.request("SendMessage", first)
    contact = await db(Contact.objects.get)()
    assert contact.custom_fields == {"order_number": "42"}
    ack = await visitor.request(
        "SetConsumerContactCustomFields",
        {"thread": {"idOnExternalPlatform": "thread-A"}, "customFields": [{"ident": "topic", "value": "order"}]},
    )
    assert ack == {"eventId": ack["eventId"]}
    ack = await visitor.request(
        "SetConsumerCustomFields", {"customFields": [{"ident": "customer_since", "value": "2020-01-31"}]}
    )
    assert "error" not in ack
    await db(contact.refresh_from_db)()
    customer = await db(type(acme.visitor).objects.get)(pk=acme.visitor.pk)
    assert contact.custom_fields == {"order_number": "42", "topic": "order"}
    assert customer.custom_fields == {"email": "vera@example.com", "customer_since": "2020-01-31"}
    recovered = await visitor.request("RecoverThread", {"thread": {"idOnExternalPlatform": "thread-A"}})
    data = recovered["postback"]["data"]
    assert data["contact"]["customFields"] == [
        {"ident": "order_number", "value": "42"},
        {"ident": "topic", "value": "order"},
    ]
    assert data["customer"]["customFields"] == [
        {"ident": "customer_since", "value": "2020-01-31"},
        {"ident": "email", "value": "vera@example.com"},
    ]
    bad = await visitor.request(
        "SetConsumerContactCustomFields",
        {"thread": {"idOnExternalPlatform": "thread-A"}, "customFields": [{"ident": "topic", "value": "nonsense"}]},
    )
    assert bad["error"]["reason"] == "invalid_input"
    unknown = await visitor.request("SetConsumerCustomFields", {"customFields": [{"ident": "ssn", "value": "1"}]})
    assert unknown["error"]["reason"] == "invalid_input"
    await db(contact.refresh_from_db)()
    assert contact.custom_fields == {"order_number": "42", "topic": "order"}


async def test_invalid_fields_in_a_first_message_write_nothing(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    data = send_data("thread-A", "a", "msg-1", consumerContact={"customFields": [{"ident": "nope", "value": "1"}]})
    error = await visitor.request("SendMessage", data)
    assert error["error"]["errorCode"] == "SendingMessageFailed"
    assert await db(Message.objects.count)() == 0


async def test_postback_and_attachment_messages(acme, visitor_socket, client):  # type: ignore[no-untyped-def]
    import base64

    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    postback = {
        "messageContent": {"type": "TEXT", "payload": {"text": "Yes please", "postback": "PB_1"}, "postback": "PB_1"},
        "idOnExternalPlatform": "msg-pb",
        "thread": {"idOnExternalPlatform": "thread-A"},
    }
    await visitor.request("SendMessage", postback)
    pushed = await visitor.push("MessageCreated")
    assert pushed["data"]["message"]["messageContent"]["postback"] == "PB_1"
    upload = {"content": base64.b64encode(b"hello").decode(), "fileName": "note.txt", "mimeType": "text/plain"}
    response = await db(client.post)(
        "/chat/1.0/brand/1001/channel/chat_msg/attachment", data=json.dumps(upload), content_type="application/json"
    )
    file_url = response.json()["fileUrl"]
    message = {
        "messageContent": {"type": "TEXT", "payload": {"text": ""}},
        "idOnExternalPlatform": "msg-file",
        "thread": {"idOnExternalPlatform": "thread-A"},
        "attachments": [{"url": file_url, "friendlyName": "note.txt"}],
    }
    assert "error" not in await visitor.request("SendMessage", message)
    attachment = (await visitor.push("MessageCreated"))["data"]["message"]["attachments"][0]
    assert attachment["friendlyName"] == "note.txt"
    assert attachment["mimeType"] == "text/plain"
    assert attachment["url"].startswith("http://127.0.0.1:8000/files/")
    stored = await db(Attachment.objects.select_related("message").get)()
    assert stored.message.client_id == "msg-file"
    reused = await visitor.request("SendMessage", {**message, "idOnExternalPlatform": "msg-file-2"})
    assert reused["error"]["errorCode"] == "SendingMessageFailed"
    forged = {**message, "idOnExternalPlatform": "msg-3", "attachments": [{"url": "https://evil.example/x.exe"}]}
    assert (await visitor.request("SendMessage", forged))["error"]["errorCode"] == "SendingMessageFailed"


async def test_locked_thread_refuses_and_visitor_cannot_end_messaging(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    thread = await db(Thread.objects.get)(public_id="thread-A")
    await db(services.thread_set_locked)(thread=thread, locked=True)
    locked = await visitor.push("ThreadUpdated")
    assert locked["data"]["thread"]["canAddMoreMessages"] is False
    refused = await visitor.request("SendMessage", send_data("thread-A", "b", "msg-2"))
    assert refused["error"]["reason"] == "thread_locked"
    contact = await db(Contact.objects.get)()
    ended = await visitor.request(
        "EndContact", {"thread": {"idOnExternalPlatform": "thread-A"}, "contact": {"id": str(contact.pk)}}
    )
    assert ended["error"]["reason"] == "not_offered"
    await db(contact.refresh_from_db)()
    assert contact.status == "new"


async def test_single_thread_channel_refuses_a_second_thread(acme, visitor_socket):  # type: ignore[no-untyped-def]
    await db(Channel.objects.filter(pk=acme.messaging.pk).update)(multi_thread=False)
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    second = await visitor.request("SendMessage", send_data("thread-B", "b", "msg-2"))
    assert second["error"]["reason"] == "thread_limit_reached"


async def test_agent_assignment_and_close_are_pushed(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    await visitor.pushes()
    contact = await db(Contact.objects.get)()
    await db(services.contact_assign)(contact=contact, agent=acme.alice)
    assigned = await visitor.push("CaseInboxAssigneeChanged")
    assert assigned["data"]["case"]["id"] == str(contact.pk)
    assert assigned["data"]["case"]["threadIdOnExternalPlatform"] == "thread-A"
    assert assigned["data"]["inboxAssignee"]["firstName"] == "Alice"
    assert assigned["data"]["previousInboxAssignee"] is None
    await db(services.contact_set_status)(contact=contact, status="closed", by=acme.alice)
    closed = await visitor.push("CaseStatusChanged")
    assert closed["data"]["case"]["status"] == "closed"
    assert closed["data"]["thread"]["idOnExternalPlatform"] == "thread-A"


async def test_page_views_visitor_data_and_authorization_tokens(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    views = [
        {"id": "p1", "pageUrl": "https://shop.example/cart", "pageTitle": "Cart", "visitedAt": "2026-01-01T00:00:00Z"}
    ]
    ack = await visitor.request("SendPageViews", {"thread": {"idOnExternalPlatform": "thread-A"}, "pageViews": views})
    assert ack == {"eventId": ack["eventId"]}
    thread = await db(Thread.objects.get)(public_id="thread-A")
    assert thread.context["currentPage"] == {
        "url": "https://shop.example/cart",
        "title": "Cart",
        "at": "2026-01-01T00:00:00Z",
    }
    ack = await visitor.request("StoreVisitor", {"customVariables": [{"identifier": "plan", "value": "pro"}]})
    assert "error" not in ack
    customer = await db(type(acme.visitor).objects.get)(pk=acme.visitor.pk)
    assert customer.extra == {"plan": "pro"}
    for event_type in (
        "StoreVisitorEvents",
        "ExecuteTrigger",
        "AddVisitorTags",
        "RemoveVisitorTags",
        "SendMessagePreview",
    ):
        answer = await visitor.request(event_type, {})
        assert answer == {"eventId": answer["eventId"]}, event_type
    token = await visitor.request(
        "GenerateAuthorizationToken", {"thread": {"idOnExternalPlatform": "thread-A"}, "url": "https://x"}
    )
    assert token["postback"]["eventType"] == "AuthorizationTokenGenerated"
    assert token["postback"]["data"]["authorizationToken"]["token"]


async def test_features_not_offered_answer_with_their_error_codes(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    expected = {
        "SendTranscript": "SendingTranscriptFailed",
        "CreateInvitationToGroupChat": "CreatingInvitationToGroupChatFailed",
        "SendEmailInvitationToGroupChat": "SendingEmailInvitationToGroupChatFailed",
        "JoinGroupChat": "JoiningGroupChatFailed",
        "LeaveGroupChat": "InconsistentData",
        "SendOutbound": "SendingMessageFailed",
    }
    for event_type, code in expected.items():
        answer = await visitor.request(event_type, {"thread": {"idOnExternalPlatform": "t"}})
        assert answer["error"]["errorCode"] == code, event_type
    assert await db(Message.objects.count)() == 0


async def test_layer_overflow_resends_what_the_socket_missed(acme, visitor_socket):  # type: ignore[no-untyped-def]
    from channels.layers import get_channel_layer

    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    assert [frame["eventType"] for frame in await visitor.pushes()] == ["CaseCreated", "MessageCreated"]
    layer = get_channel_layer()
    (channel_name,) = layer.groups[f"customer.{acme.visitor.pk}"]
    await layer.group_discard(f"customer.{acme.visitor.pk}", channel_name)  # pushes get lost
    await agent_reply("thread-A", "lost one", acme.alice)
    await agent_reply("thread-A", "lost two", acme.alice)
    assert await visitor.pushes() == []
    await layer.send(channel_name, {"type": "layer.overflow", "dropped": 2})
    resent = await visitor.pushes()
    assert [frame["data"]["message"]["messageContent"]["payload"]["text"] for frame in resent] == [
        "lost one",
        "lost two",
    ]
    assert [frame["data"]["message"]["sequence"] for frame in resent] == [2, 3]


async def test_layer_overflow_resends_threads_the_socket_only_heard_of(acme, visitor_socket):  # type: ignore[no-untyped-def]
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    group = f"customer.{acme.visitor.pk}"
    first = await visitor_socket(acme.messaging, customer=acme.visitor)
    (first_name,) = layer.groups[group]
    second = await visitor_socket(acme.messaging, customer=acme.visitor)
    await second.request("SendMessage", send_data("thread-B", "b", "msg-1"))
    assert [frame["eventType"] for frame in await first.pushes()] == ["CaseCreated", "MessageCreated"]
    await layer.group_discard(group, first_name)  # pushes to the first tab get lost
    await agent_reply("thread-B", "lost one", acme.alice)
    assert await first.pushes() == []
    await layer.send(first_name, {"type": "layer.overflow", "dropped": 1})
    resent = await first.pushes()
    assert [frame["data"]["message"]["messageContent"]["payload"]["text"] for frame in resent] == ["lost one"]
    assert [frame["data"]["message"]["sequence"] for frame in resent] == [2]


async def test_a_transfer_to_another_queue_is_announced(acme, visitor_socket):  # type: ignore[no-untyped-def]
    from engage.models import RoutingQueue

    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    created = await visitor.push("CaseCreated")
    assert created["data"]["routingQueue"] == {"id": str(acme.queue.pk)}
    escalations = await db(RoutingQueue.objects.create)(tenant=acme.tenant, name="Escalations")
    contact = await db(Contact.objects.get)()
    await db(services.contact_assign)(contact=contact, agent=None, queue=escalations, by=acme.alice)
    transfer = await visitor.push("CaseToRoutingQueueAssignmentChanged")
    assert transfer["data"]["routingQueue"] == {"id": str(escalations.pk)}
    assert transfer["data"]["previousRoutingQueue"] == {"id": str(acme.queue.pk)}
    assert transfer["data"]["case"]["threadIdOnExternalPlatform"] == "thread-A"
    assigned = await visitor.push("CaseInboxAssigneeChanged")
    assert assigned["data"]["inboxAssignee"] is None


async def test_page_trail_updates_push_nothing(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    await visitor.pushes()
    views = [{"pageUrl": "https://shop.example/", "pageTitle": "Home", "visitedAt": "2026-01-01T00:00:00Z"}]
    await visitor.request("SendPageViews", {"thread": {"idOnExternalPlatform": "thread-A"}, "pageViews": views})
    assert await visitor.pushes() == []


async def test_visitor_names_and_browser_reach_the_agent_side(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    fingerprint = {"browser": "Chrome", "browserVersion": "120.0", "os": "Linux", "ip": None, "country": ""}
    identity = {"idOnExternalPlatform": "spoofed", "firstName": "Jane", "lastName": "Q Public"}
    await visitor.request(
        "SendMessage", send_data("thread-A", "a", "msg-1", browserFingerprint=fingerprint), identity=identity
    )
    thread = await db(Thread.objects.select_related("customer").get)(public_id="thread-A")
    assert thread.context["browser"] == {"browser": "Chrome", "browserVersion": "120.0", "os": "Linux"}
    assert (thread.customer.first_name, thread.customer.last_name) == ("Jane", "Q Public")
    # The payload's id is never trusted: the socket's customer wrote the message.
    assert thread.customer.id_on_external_platform == "acme-visitor-1"


async def test_recover_shows_fields_an_agent_changed_meanwhile(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    await visitor.request("SendMessage", send_data("thread-A", "a", "msg-1"))
    customer = await db(type(acme.visitor).objects.get)(pk=acme.visitor.pk)
    await db(services.customer_update)(customer=customer, custom_fields={"email": "agent-set@example.com"})
    data = (await visitor.request("RecoverThread", {"thread": {"idOnExternalPlatform": "thread-A"}}))["postback"][
        "data"
    ]
    assert data["customer"]["customFields"] == [{"ident": "email", "value": "agent-set@example.com"}]
