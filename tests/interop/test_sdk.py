"""The real CXone Chat Web SDK 2.2.0 (from npm, under Node 20) against Parley, end to end."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from chat import services
from chat.models import Contact, Customer, Message, Thread
from engage.models import Channel
from tests.gateway.identity import company_jwt

pytestmark = [pytest.mark.interop, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def use_mode(channel: Channel, mode: str) -> None:
    Channel.objects.filter(pk=channel.pk).update(auth_mode=mode)
    channel.refresh_from_db()


def sdk_config(channel: Channel, **extra):  # type: ignore[no-untyped-def]
    return {"brandId": channel.brand.brand_id, "channelId": channel.channel_id, **extra}


def agent_reply(thread_public_id: str, text: str, agent):  # type: ignore[no-untyped-def]
    thread = Thread.objects.get(public_id=thread_public_id)
    return services.message_create(thread=thread, author_type="agent", agent=agent, content={"text": text})


def test_channel_info_and_availability(acme, run_sdk):  # type: ignore[no-untyped-def]
    sdk = run_sdk("channelInfo", **sdk_config(acme.live, customerId="info-1"))
    assert sdk.step("channelInfo") == {"isLiveChat": True, "multi": False, "fileSize": "10"}
    assert sdk.step("availability") == {"status": "offline"}
    assert sdk.done() == []


def test_anonymous_session_send_receive_typing_receipts_fields_and_recover(acme, run_sdk, published):  # type: ignore[no-untyped-def]
    config = sdk_config(acme.messaging, securedSession="anonymous", customerId="sdk-anon-1", threadId="sdk-thread-1")
    sdk = run_sdk("messaging", **config)
    assert sdk.step("sent")["id"]
    assert sdk.step("contact") == {"status": "new", "thread": "sdk-thread-1"}
    assert sdk.step("ownMessage") == {"text": "hello from the SDK", "id": sdk.log[-1]["value"]["id"]}
    sdk.step("typed")
    assert [(e.actor, e.is_typing) for e in published if e.name == "typing.changed"] == [
        ("customer", True),
        ("customer", False),
    ]
    sdk.need("agentTyping")
    thread = Thread.objects.get(public_id="sdk-thread-1")
    services.typing_set(thread=thread, actor="agent", is_typing=True, agent=acme.alice)
    sdk.go("agentTyping")
    assert sdk.step("agentTyping") == {"thread": "sdk-thread-1", "direction": "outbound"}
    sdk.need("agentReply")
    agent_reply("sdk-thread-1", "Alice here, how can I help?", acme.alice)
    sdk.go("agentReply")
    assert sdk.step("agentReply") == {"text": "Alice here, how can I help?", "author": "Alice"}
    sdk.step("seen")
    assert Message.objects.get(direction="outbound").seen_at is not None
    sdk.need("agentRead")
    services.messages_mark_seen(thread=Thread.objects.get(pk=thread.pk), reader="agent")
    sdk.go("agentRead")
    inbound = Message.objects.get(direction="inbound")
    assert sdk.step("agentRead") == {"message": inbound.client_id}
    assert sdk.done() == []
    customer = Customer.objects.get(id_on_external_platform="sdk-anon-1")
    assert customer.custom_fields == {"email": "vera@example.com", "customer_since": "2020-01-31"}
    assert Contact.objects.get().custom_fields == {"order_number": "42", "topic": "order"}
    assert customer.threads.get().public_id == "sdk-thread-1"
    # A returning visitor (new SDK instance, new socket) recovers the conversation and continues it.
    again = run_sdk("recover", **config)
    recovered = again.step("recovered")
    assert recovered["texts"] == ["Alice here, how can I help?", "hello from the SDK"]
    assert recovered["contact"] == str(Contact.objects.get().pk)
    assert recovered["fields"] == [{"ident": "order_number", "value": "42"}, {"ident": "topic", "value": "order"}]
    again.step("sentAgain")
    assert again.done() == []
    assert Message.objects.count() == 3


def test_reconnect_after_a_server_restart_recovers_what_was_missed(acme, run_sdk, parley_server):  # type: ignore[no-untyped-def]
    config = sdk_config(acme.messaging, securedSession="anonymous", customerId="restart-1", threadId="rs-1", cache=True)
    sdk = run_sdk("reconnect", **config)
    sdk.need("restartServer")
    parley_server.restart(while_down=lambda: agent_reply("rs-1", "sent while you were away", acme.alice))
    sdk.go("restartServer")
    assert sdk.step("recovered") == {"texts": ["sent while you were away", "before the restart"]}
    sdk.need("agentReply")
    agent_reply("rs-1", "live again", acme.alice)
    sdk.go("agentReply")
    assert sdk.step("live") == {"text": "live again"}
    errors = sdk.done()
    assert all("close" in error.lower() or "connection" in error.lower() for error in errors), errors
    assert [m.text for m in Message.objects.order_by("sequence")] == [
        "before the restart",
        "sent while you were away",
        "after the restart",
        "live again",
    ]


def test_secured_cookies_session(acme, run_sdk):  # type: ignore[no-untyped-def]
    use_mode(acme.messaging, Channel.AuthMode.SECURED_COOKIES)
    sdk = run_sdk("sendOnly", **sdk_config(acme.messaging, securedSession="securedCookies", threadId="cookie-1"))
    sent = sdk.step("sent")
    assert sent["customer"].startswith("parley-")
    assert sdk.done() == []
    customer = Customer.objects.get(id_on_external_platform=sent["customer"])
    assert Message.objects.get().thread.customer_id == customer.pk


def test_third_party_session_with_a_signed_customer_id(acme, run_sdk):  # type: ignore[no-untyped-def]
    use_mode(acme.messaging, Channel.AuthMode.THIRD_PARTY)
    code = company_jwt(acme.messaging, "crm-user-7", given_name="Jane", family_name="Public")
    config = sdk_config(acme.messaging, securedSession="thirdParty", authorizationCode=code, threadId="tp-1")
    sdk = run_sdk("sendOnly", **config)
    assert sdk.step("sent") == {"customer": "crm-user-7", "text": "hello"}
    assert sdk.done() == []
    customer = Customer.objects.get(id_on_external_platform="crm-user-7")
    assert (customer.is_verified, customer.first_name) == (True, "Jane")


def test_third_party_session_with_a_forged_code_never_connects(acme, run_sdk):  # type: ignore[no-untyped-def]
    use_mode(acme.messaging, Channel.AuthMode.THIRD_PARTY)
    config = sdk_config(acme.messaging, securedSession="thirdParty", authorizationCode="forged", threadId="tp-1")
    sdk = run_sdk("sendOnly", **config)
    with pytest.raises(AssertionError, match="timed out: connect"):
        sdk.step("sent")
    assert not Customer.objects.filter(id_on_external_platform="crm-user-7").exists()
    assert Message.objects.count() == 0


def test_legacy_flow_authorize_over_the_socket(acme, run_sdk):  # type: ignore[no-untyped-def]
    use_mode(acme.messaging, Channel.AuthMode.NONE)
    config = sdk_config(acme.messaging, customerId="legacy-1", customerName="Jane Q Public", threadId="lg-1")
    sdk = run_sdk("sendOnly", legacyAuthorize=True, **config)
    assert sdk.step("authorized") == {"id": "legacy-1"}
    assert sdk.step("sent") == {"customer": "legacy-1", "text": "hello"}
    assert sdk.done() == []
    assert Customer.objects.get(id_on_external_platform="legacy-1").last_name == "Q Public"


def test_multi_thread_list_rename_archive(acme, run_sdk):  # type: ignore[no-untyped-def]
    sdk = run_sdk("multiThread", **sdk_config(acme.messaging, securedSession="anonymous", customerId="multi-1"))
    assert sdk.step("threads") == [
        {"id": "mt-first", "name": "Renamed topic", "open": True},
        {"id": "mt-second", "name": "", "open": False},
    ]
    assert sdk.step("metadata") == {"last": "first topic"}
    assert sdk.done() == []
    assert Thread.objects.get(public_id="mt-second").is_archived is True


def test_paging_through_history(acme, run_sdk, settings):  # type: ignore[no-untyped-def]
    settings.PARLEY_GATEWAY_PAGE_SIZE = 5
    customer = services.customer_identify(brand=acme.brand, id_on_external_platform="pager-1")
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=customer, public_id="long-1")
    for number in range(1, 13):
        services.message_create(thread=thread, author_type="customer", content={"text": f"m{number}"})
    config = sdk_config(acme.messaging, securedSession="anonymous", customerId="pager-1", threadId="long-1")
    sdk = run_sdk("paging", **config)
    paged = sdk.step("paged")
    assert paged["pages"] == [5, 5, 2]
    assert paged["texts"] == [f"m{number}" for number in range(12, 0, -1)]
    assert sdk.done() == []


def test_live_chat_queue_agent_joins_and_visitor_ends(acme, run_sdk):  # type: ignore[no-untyped-def]
    config = sdk_config(acme.live, securedSession="anonymous", customerId="live-1", isLivechat=True, threadId="lc-1")
    sdk = run_sdk("livechat", **config)
    queued = sdk.step("queued")
    contact = Contact.objects.get()
    assert queued == {"position": 1, "contact": str(contact.pk)}
    sdk.need("agentJoins")
    services.contact_assign(contact=contact, agent=acme.alice)
    sdk.go("agentJoins")
    assert sdk.step("assigned") == {"agent": "Alice"}
    sdk.need("agentReply")
    agent_reply("lc-1", "Hi, I am Alice", acme.alice)
    sdk.go("agentReply")
    assert sdk.step("agentReply") == {"text": "Hi, I am Alice"}
    assert sdk.step("ended") == {"status": "closed"}
    assert sdk.done() == []
    contact.refresh_from_db()
    assert contact.status == "closed"


def test_offline_message(acme, run_sdk):  # type: ignore[no-untyped-def]
    config = sdk_config(acme.live, securedSession="anonymous", customerId="offline-1", isLivechat=True)
    sdk = run_sdk("offline", **config)
    assert sdk.step("offline") == {"availability": "offline"}
    assert sdk.done() == []
    message = Message.objects.select_related("thread__customer").get()
    assert (message.text, message.thread.customer.email) == ("Call me", "vera@example.com")


def test_attachment_upload_and_refusal(acme, run_sdk):  # type: ignore[no-untyped-def]
    Channel.objects.filter(pk=acme.messaging.pk).update(max_file_size_mb=1)
    config = sdk_config(acme.messaging, securedSession="anonymous", customerId="files-1", threadId="files-1")
    sdk = run_sdk("attachment", **config)
    assert sdk.step("attached") == {"name": "note.txt", "mimeType": "text/plain"}
    refused = sdk.step("refused")
    # The SDK's UploadAttachmentError: its data is exactly the restrictions Parley answered with.
    assert refused["message"] == "[ChatSDKError]: Upload attachment failed"
    assert refused["data"] == {"allowedFileSize": "1", "allowedFileTypes": acme.messaging.allowed_file_types}
    assert sdk.done() == []
    attachment = Message.objects.get(attachments__isnull=False).attachments.get()
    assert attachment.file.read() == b"hello attachment"


def test_large_recover_arrives_by_url(acme, run_sdk):  # type: ignore[no-untyped-def]
    customer = services.customer_identify(brand=acme.brand, id_on_external_platform="large-1")
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=customer, public_id="large-1")
    for _ in range(3):
        services.message_create(thread=thread, author_type="customer", content={"text": "€" * 16000})
    config = sdk_config(acme.messaging, securedSession="anonymous", customerId="large-1", threadId="large-1")
    sdk = run_sdk("largeEvent", **config)
    assert sdk.step("recovered") == {"count": 3, "lengths": [16000, 16000, 16000]}
    assert sdk.done() == []
    folders, _ = default_storage.listdir("large-events")
    assert len(folders) == 1
    assert len(default_storage.listdir(f"large-events/{folders[0]}")[1]) == 1


@pytest.mark.postgres
@pytest.mark.redis
def test_under_daphne_with_the_redis_layer(acme, daphne_server):  # type: ignore[no-untyped-def]
    """The production shape: the gateway in a daphne process, the agent in another, Redis between them."""
    from tests.interop.conftest import SdkProcess

    config = sdk_config(acme.messaging, securedSession="anonymous", customerId="daphne-1", threadId="dp-1")
    sdk = SdkProcess(daphne_server, "exchange", **config)
    try:
        assert sdk.step("sent") == {"text": "hello daphne"}
        sdk.need("agentReply")
        agent_reply("dp-1", "Hello from another process", acme.alice)
        sdk.go("agentReply")
        assert sdk.step("agentReply") == {"text": "Hello from another process"}
        assert sdk.done() == []
    finally:
        sdk.close()
