"""Globex cannot reach Acme: not with its tokens, its customer ids, nor with Acme's public thread ids."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.models import Message, Thread
from engage.models import Channel
from tests.gateway.conftest import open_socket, transaction_token

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def message(thread_id: str, message_id: str, body: str = "hi"):  # type: ignore[no-untyped-def]
    return {
        "messageContent": {"type": "TEXT", "payload": {"text": body}},
        "idOnExternalPlatform": message_id,
        "thread": {"idOnExternalPlatform": thread_id},
    }


async def test_another_customer_cannot_reach_a_thread_by_its_public_id(acme, visitor_socket):  # type: ignore[no-untyped-def]
    owner = await visitor_socket(acme.messaging, customer=acme.visitor)
    await owner.request("SendMessage", message("thread-secret", "m-1", "my address is ..."))
    stranger = await db(services.customer_identify)(brand=acme.brand, id_on_external_platform="stranger")
    intruder = await visitor_socket(acme.messaging, customer=stranger)
    thread_ref = {"thread": {"idOnExternalPlatform": "thread-secret"}}
    for event_type, data in [
        ("RecoverThread", thread_ref),
        ("LoadMoreMessages", {**thread_ref, "scrollToken": "5"}),
        ("LoadThreadMetadata", thread_ref),
        ("ArchiveThread", thread_ref),
        ("UpdateThread", {"thread": {"idOnExternalPlatform": "thread-secret", "threadName": "pwned"}}),
        ("MessageSeenByConsumer", thread_ref),
        ("SenderTypingStarted", thread_ref),
        ("SetConsumerContactCustomFields", {**thread_ref, "customFields": [{"ident": "topic", "value": "order"}]}),
        ("SendMessage", message("thread-secret", "m-2", "injected")),
    ]:
        answer = await intruder.request(event_type, data)
        assert answer["error"]["reason"] == "thread_not_found", event_type
    assert (await intruder.request("FetchThreadList", {}))["postback"]["data"]["threads"] == []
    assert await intruder.pushes() == []
    thread = await db(Thread.objects.get)(public_id="thread-secret")
    assert (thread.name, thread.is_archived) == ("", False)
    assert await db(Message.objects.count)() == 1


async def test_globex_token_and_customer_cannot_open_or_reach_acme(acme, globex, visitor_socket):  # type: ignore[no-untyped-def]
    owner = await visitor_socket(acme.messaging, customer=acme.visitor)
    await owner.request("SendMessage", message("thread-A", "m-1"))
    assert [frame["eventType"] for frame in await owner.pushes()] == ["CaseCreated", "MessageCreated"]
    globex_token = transaction_token(globex.messaging, globex.visitor)
    connected, _ = await open_socket(acme.messaging, transactionToken=globex_token)
    assert not connected
    acme_token = transaction_token(acme.messaging, acme.visitor)
    connected, _ = await open_socket(globex.messaging, transactionToken=acme_token)
    assert not connected
    globex_visitor = await visitor_socket(globex.messaging, customer=globex.visitor)
    answer = await globex_visitor.request("RecoverThread", {"thread": {"idOnExternalPlatform": "thread-A"}})
    assert answer["error"]["reason"] == "thread_not_found"
    assert (await globex_visitor.request("FetchThreadList", {}))["postback"]["data"]["threads"] == []
    # The same public thread id on globex's channel is globex's own, separate thread.
    await globex_visitor.request("SendMessage", message("thread-A", "m-1", "globex hello"))
    threads = await db(lambda: sorted(Thread.objects.values_list("tenant__slug", "public_id")))()
    assert threads == [("acme", "thread-A"), ("globex", "thread-A")]
    acme_push = await owner.pushes()
    assert acme_push == []


async def test_globex_cannot_use_acme_attachment_links(acme, globex, visitor_socket, client):  # type: ignore[no-untyped-def]
    import base64
    import json

    upload = {"content": base64.b64encode(b"acme secret").decode(), "fileName": "a.txt", "mimeType": "text/plain"}
    response = await db(client.post)(
        "/chat/1.0/brand/1001/channel/chat_msg/attachment", data=json.dumps(upload), content_type="application/json"
    )
    file_url = response.json()["fileUrl"]
    globex_visitor = await visitor_socket(globex.messaging, customer=globex.visitor)
    data = {**message("thread-G", "m-1", ""), "attachments": [{"url": file_url, "friendlyName": "a.txt"}]}
    answer = await globex_visitor.request("SendMessage", data)
    assert answer["error"]["errorCode"] == "SendingMessageFailed"
    token = file_url.rsplit("/", 1)[1]
    assert (await db(client.get)(f"/chat/1.0/brand/2002/channel/globex_msg/attachment/{token}")).status_code == 404


async def test_anonymous_ids_are_scoped_to_the_brand(acme, globex):  # type: ignore[no-untyped-def]
    await db(Channel.objects.filter(pk__in=[acme.messaging.pk, globex.messaging.pk]).update)(auth_mode="none")
    # The same self-declared id on two brands names two different customers.
    from chat.gateway.sessions import customer_anonymous

    acme_channel = await db(Channel.objects.select_related("brand").get)(pk=acme.messaging.pk)
    globex_channel = await db(Channel.objects.select_related("brand").get)(pk=globex.messaging.pk)
    one = await db(customer_anonymous)(channel=acme_channel, external_id="same-id")
    two = await db(customer_anonymous)(channel=globex_channel, external_id="same-id")
    assert one.pk != two.pk
    assert (one.tenant_id, two.tenant_id) == (acme.tenant.pk, globex.tenant.pk)
