"""Live chat: start, queue with position, an agent joins, either side ends; offline messages."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.models import Contact, Message, Thread
from engage.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def start(thread_id: str, message_id: str, body: str = "Begin conversation"):  # type: ignore[no-untyped-def]
    return {
        "messageContent": {"type": "TEXT", "payload": {"text": body}},
        "idOnExternalPlatform": message_id,
        "thread": {"idOnExternalPlatform": thread_id},
    }


async def test_start_queue_join_and_agent_ends(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.live, customer=acme.visitor)
    assert "error" not in await visitor.request("SendMessage", start("live-1", "m-1"))
    case = await visitor.push("CaseCreated")
    position = await visitor.push("SetPositionInQueue")
    assert position["data"]["positionInQueue"] == 1
    assert position["data"]["consumerContact"] == {"id": case["data"]["case"]["id"]}
    assert position["data"]["isAnyAgentOnlineForQueue"] is False
    assert isinstance(position["eventId"], str) and position["eventId"]
    await db(Membership.objects.filter(pk=acme.alice.pk).update)(presence="available")
    contact = await db(Contact.objects.get)()
    await db(services.contact_assign)(contact=contact, agent=acme.alice)
    joined = await visitor.push("CaseInboxAssigneeChanged")
    assert joined["data"]["inboxAssignee"]["firstName"] == "Alice"
    await db(services.contact_set_status)(contact=contact, status="closed", by=acme.alice)
    closed = await visitor.push("CaseStatusChanged")
    assert closed["data"]["case"]["status"] == "closed"


async def test_router_assigns_an_available_agent_at_once(acme, visitor_socket):  # type: ignore[no-untyped-def]
    await db(Membership.objects.filter(pk=acme.bob.pk).update)(presence="available")
    visitor = await visitor_socket(acme.live, customer=acme.visitor)
    await visitor.request("SendMessage", start("live-1", "m-1"))
    joined = await visitor.push("CaseInboxAssigneeChanged")
    assert joined["data"]["inboxAssignee"]["firstName"] == "Bob"


async def test_visitor_ends_the_chat_then_starts_a_new_session(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.live, customer=acme.visitor)
    await visitor.request("SendMessage", start("live-1", "m-1"))
    case = await visitor.push("CaseCreated")
    contact_id = case["data"]["case"]["id"]
    recovered = await visitor.request("RecoverLivechat", {})
    assert recovered["postback"]["eventType"] == "LivechatRecovered"
    assert recovered["postback"]["data"]["contact"]["id"] == contact_id
    wrong = await visitor.request(
        "EndContact", {"thread": {"idOnExternalPlatform": "live-1"}, "contact": {"id": "999999"}}
    )
    assert wrong["error"]["reason"] == "thread_not_found"
    ended = await visitor.request(
        "EndContact", {"thread": {"idOnExternalPlatform": "live-1"}, "contact": {"id": contact_id}}
    )
    assert ended == {"eventId": ended["eventId"]}
    closed = await visitor.push("CaseStatusChanged")
    assert (closed["data"]["case"]["id"], closed["data"]["case"]["status"]) == (contact_id, "closed")
    again = await visitor.request(
        "EndContact", {"thread": {"idOnExternalPlatform": "live-1"}, "contact": {"id": contact_id}}
    )
    assert "error" not in again
    none_open = await visitor.request("RecoverLivechat", {})
    assert none_open["error"]["errorCode"] == "RecoveringLivechatFailed"
    # A new chat after the end: a new thread id starts a new session on a single-thread live channel.
    assert "error" not in await visitor.request("SendMessage", start("live-2", "m-2"))
    assert (await visitor.push("CaseCreated"))["data"]["case"]["threadIdOnExternalPlatform"] == "live-2"
    # Writing again into the ended one opens a new contact there (documented decision).
    assert "error" not in await visitor.request("SendMessage", start("live-1", "m-3", "one more thing"))
    statuses = await db(lambda: sorted(Contact.objects.values_list("thread__public_id", "status")))()
    assert statuses == [("live-1", "closed"), ("live-1", "new"), ("live-2", "new")]


async def test_second_live_chat_while_one_is_open_is_refused(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.live, customer=acme.visitor)
    await visitor.request("SendMessage", start("live-1", "m-1"))
    refused = await visitor.request("SendMessage", start("live-2", "m-2"))
    assert refused["error"]["reason"] == "thread_limit_reached"
    assert await db(Thread.objects.count)() == 1


async def test_live_chat_history_pages_with_the_contact(acme, visitor_socket, settings):  # type: ignore[no-untyped-def]
    settings.PARLEY_GATEWAY_PAGE_SIZE = 1
    visitor = await visitor_socket(acme.live, customer=acme.visitor)
    await visitor.request("SendMessage", start("live-1", "m-1", "first"))
    await visitor.request("SendMessage", start("live-1", "m-2", "second"))
    recovered = (await visitor.request("RecoverLivechat", {"thread": {"idOnExternalPlatform": "live-1"}}))["postback"][
        "data"
    ]
    assert [m["messageContent"]["payload"]["text"] for m in recovered["messages"]] == ["second"]
    more = await visitor.request(
        "LoadMoreMessages",
        {
            "scrollToken": recovered["messagesScrollToken"],
            "oldestMessageDatetime": recovered["messages"][-1]["createdAt"],
            "thread": {"idOnExternalPlatform": "live-1"},
            "contact": {"id": recovered["contact"]["id"]},
        },
    )
    assert [m["messageContent"]["payload"]["text"] for m in more["postback"]["data"]["messages"]] == ["first"]


async def test_offline_message_waits_in_the_queue(acme, visitor_socket):  # type: ignore[no-untyped-def]
    visitor = await visitor_socket(acme.live, customer=acme.visitor)
    data = {
        "messageContent": {"type": "TEXT", "payload": {"text": "Call me back"}},
        "authorCustomerIdentity": {
            "idOnExternalPlatform": "vera@example.com",
            "firstName": "Vera",
            "lastName": "Visitor",
        },
    }
    sent = await visitor.request("SendOfflineMessage", data)
    assert sent["postback"] == {"eventType": "OfflineMessageSent", "data": {}}
    message = await db(Message.objects.select_related("thread__customer", "contact").get)()
    assert message.text == "Call me back"
    assert message.thread.customer.email == "vera@example.com"
    assert message.thread.customer.last_name == "Visitor"
    assert message.contact.status == "new" and message.contact.waiting_since is not None
    bad = await visitor.request(
        "SendOfflineMessage", {**data, "authorCustomerIdentity": {"idOnExternalPlatform": "nope"}}
    )
    assert bad["error"]["errorCode"] == "SendingOfflineMessageFailed"
    assert await db(Message.objects.count)() == 1
