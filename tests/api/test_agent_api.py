"""The agent REST API (/api/v1/): every action, tenancy and error shapes."""

from __future__ import annotations

import datetime
import io
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chat import assignment, events, services
from chat.models import CannedResponse, Contact, Message
from tests.console.helpers import waiting_contact

API = "/api/v1"


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """A key prefix of its own: the shared Redis cache is never flushed."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"console-test-{uuid.uuid4().hex}"}}


def client_for(member) -> APIClient:
    client = APIClient()
    client.force_authenticate(member.user)
    return client


@pytest.fixture
def alice_api(acme):
    return client_for(acme.alice)


@pytest.fixture
def mine(acme):
    """A messaging contact accepted by alice, with two customer messages."""
    contact = waiting_contact(acme, "cust-1", text="first")
    services.message_create(
        thread=contact.thread, author_type="customer", content={"text": "second"}, client_id="cust-1-2"
    )
    return assignment.contact_pick(contact=contact, agent=acme.alice)


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    return body["error"]


# --- Authentication -----------------------------------------------------------


def test_anonymous_callers_are_refused_with_a_json_error(acme):
    response = APIClient().get(f"{API}/contacts/")
    assert response.status_code in (401, 403)
    assert _error(response)["code"] == "not_authenticated"


def test_a_user_without_membership_is_refused(acme, user_model):
    outsider = user_model.objects.create_user("outsider", password="x")
    client = APIClient()
    client.force_authenticate(outsider)
    response = client.get(f"{API}/contacts/")
    assert response.status_code == 403
    assert _error(response)["code"] == "not_a_member"


def test_personal_token_from_the_management_command_authenticates(acme, mine):
    out = io.StringIO()
    call_command("create_api_token", "alice", stdout=out)
    key = out.getvalue().strip()
    assert key == Token.objects.get(user=acme.alice.user).key
    call_command("create_api_token", "alice", stdout=(again := io.StringIO()))
    assert again.getvalue().strip() == key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get(f"{API}/contacts/")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [mine.pk]


def test_rotating_a_token_replaces_it(acme):
    call_command("create_api_token", "alice", stdout=(first := io.StringIO()))
    call_command("create_api_token", "alice", "--rotate", stdout=(second := io.StringIO()))
    assert first.getvalue() != second.getvalue()
    assert Token.objects.filter(user=acme.alice.user).count() == 1


def test_oauth2_bearer_tokens_authenticate(acme, mine):
    application = Application.objects.create(
        name="script",
        user=acme.alice.user,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    token = AccessToken.objects.create(
        user=acme.alice.user,
        application=application,
        token="bearer-for-alice",
        expires=timezone.now() + datetime.timedelta(hours=1),
        scope="read write",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.token}")
    response = client.get(f"{API}/contacts/{mine.pk}/")
    assert response.status_code == 200
    assert response.json()["assigned_agent"] == {"id": acme.alice.pk, "name": "Alice Agent"}


@pytest.mark.parametrize(("scope", "read", "write"), [("read", 200, 403), ("read write", 200, 200), ("byoc", 403, 403)])
def test_oauth2_tokens_act_within_their_scopes(acme, mine, scope, read, write):
    application = Application.objects.create(
        name="script",
        user=acme.alice.user,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    AccessToken.objects.create(
        user=acme.alice.user,
        application=application,
        token=f"token-{scope.replace(' ', '-')}",
        expires=timezone.now() + datetime.timedelta(hours=1),
        scope=scope,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer token-{scope.replace(' ', '-')}")
    assert client.get(f"{API}/contacts/{mine.pk}/").status_code == read
    response = client.post(f"{API}/contacts/{mine.pk}/status/", {"status": "pending"}, format="json")
    assert response.status_code == write
    mine.refresh_from_db()
    assert mine.status == ("pending" if write == 200 else "open")


def test_the_openapi_schema_describes_the_api(acme, alice_api):
    response = alice_api.get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in (
        "/api/v1/contacts/{contact_id}/transfer/",
        "/api/v1/threads/{thread_id}/messages/",
        "/api/v1/presence/",
    ):
        assert path in text


# --- Inbox --------------------------------------------------------------------------


def test_inbox_views(acme, alice_api, mine):
    waiting = waiting_contact(acme, "cust-2")
    older = waiting_contact(acme, "cust-3")
    Contact.objects.filter(pk=older.pk).update(waiting_since=timezone.now() - datetime.timedelta(minutes=9))
    resolved = waiting_contact(acme, "cust-4")
    services.contact_set_status(contact=resolved, status="resolved")

    body = alice_api.get(f"{API}/contacts/?view=mine").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert (row["id"], row["status"], row["unread_count"]) == (mine.pk, "open", 2)
    assert row["thread"]["customer"]["id_on_external_platform"] == "cust-1"
    assert row["thread"]["channel"] == {
        "id": acme.messaging.pk,
        "channel_id": "chat_msg",
        "name": "Acme messaging",
        "kind": "messaging",
    }
    queue = alice_api.get(f"{API}/contacts/?view=queue").json()
    assert [c["id"] for c in queue["results"]] == [older.pk, waiting.pk]
    assert [c["id"] for c in alice_api.get(f"{API}/contacts/?view=resolved").json()["results"]] == [resolved.pk]
    assert [c["id"] for c in alice_api.get(f"{API}/contacts/?view=queue&q=cust-3").json()["results"]] == [older.pk]
    assert alice_api.get(f"{API}/inbox/counts/").json() == {"mine": 1, "queue": 2, "unread": 1}


def test_only_administrators_see_all_open_contacts(acme, alice_api, mine):
    waiting = waiting_contact(acme, "cust-2")
    response = alice_api.get(f"{API}/contacts/?view=all")
    assert response.status_code == 403
    assert _error(response)["code"] == "permission_denied"
    body = client_for(acme.admin).get(f"{API}/contacts/?view=all").json()
    assert sorted(c["id"] for c in body["results"]) == sorted([mine.pk, waiting.pk])


def test_an_unknown_view_is_a_400(acme, alice_api):
    response = alice_api.get(f"{API}/contacts/?view=everything")
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_input"


@pytest.mark.parametrize("rows", [1, 6])
def test_the_inbox_list_pins_its_query_count(acme, alice_api, django_assert_num_queries, rows):
    acme.alice.max_concurrent_contacts = 10
    acme.alice.save()
    for n in range(rows):
        assignment.contact_pick(contact=waiting_contact(acme, f"c{n}"), agent=acme.alice)
    # membership, readable channels, count, page
    with django_assert_num_queries(4):
        response = alice_api.get(f"{API}/contacts/?view=mine")
    assert response.json()["count"] == rows


@pytest.mark.parametrize("rows", [1, 6])
def test_the_thread_list_pins_its_query_count(acme, alice_api, django_assert_num_queries, rows):
    for n in range(rows):
        waiting_contact(acme, f"c{n}")
    with django_assert_num_queries(4):
        response = alice_api.get(f"{API}/threads/")
    assert response.json()["count"] == rows


@pytest.mark.parametrize("rows", [2, 30])
def test_the_message_page_pins_its_query_count(acme, alice_api, mine, django_assert_num_queries, rows):
    for n in range(rows):
        services.message_create(thread=mine.thread, author_type="customer", content={"text": f"m{n}"})
    # membership, thread, messages, attachments
    with django_assert_num_queries(4):
        response = alice_api.get(f"{API}/threads/{mine.thread_id}/messages/?limit=50")
    assert len(response.json()["results"]) == rows + 2


# --- Threads and messages -----------------------------------------------------------


def test_thread_detail_shows_identity_context_and_past_threads(acme, alice_api, mine):
    thread = mine.thread
    services.thread_update_context(
        thread=thread,
        context={
            "currentPage": {"url": "https://shop.example/cart", "title": "Cart"},
            "customVariables": {"plan": "gold"},
        },
    )
    services.customer_update(customer=thread.customer, values={"extra": {"tier": "gold"}})
    older, _ = services.thread_get_or_create(channel=acme.messaging, customer=thread.customer, name="Earlier")
    body = alice_api.get(f"{API}/threads/{thread.pk}/").json()
    assert body["context"]["currentPage"] == {"url": "https://shop.example/cart", "title": "Cart"}
    assert body["context"]["customVariables"] == {"plan": "gold"}
    assert body["customer"]["is_verified"] is False
    assert body["customer"]["extra"] == {"tier": "gold"}
    assert body["contact"]["id"] == mine.pk
    assert [(p["id"], p["name"], p["latest_status"]) for p in body["past_threads"]] == [(older.pk, "Earlier", None)]


def test_messages_page_by_sequence(acme, alice_api, mine):
    for n in range(3, 8):
        services.message_create(thread=mine.thread, author_type="customer", content={"text": f"m{n}"})
    url = f"{API}/threads/{mine.thread_id}/messages/"
    newest = alice_api.get(f"{url}?limit=3").json()
    assert [m["sequence"] for m in newest["results"]] == [5, 6, 7]
    assert (newest["has_more"], newest["last_sequence"]) == (True, 7)
    older = alice_api.get(f"{url}?before=5&limit=3").json()
    assert [m["sequence"] for m in older["results"]] == [2, 3, 4]
    after = alice_api.get(f"{url}?after=4&limit=2").json()
    assert [m["sequence"] for m in after["results"]] == [5, 6]
    assert after["has_more"] is True
    assert _error(alice_api.get(f"{url}?after=1&before=3"))["code"] == "invalid_input"
    assert alice_api.get(f"{url}?limit=0").status_code == 400


def test_reply_and_idempotent_retry(acme, alice_api, mine, published, django_capture_on_commit_callbacks):
    url = f"{API}/threads/{mine.thread_id}/messages/"
    with django_capture_on_commit_callbacks(execute=True):
        first = alice_api.post(url, {"text": "Hello!", "client_id": "r1"}, format="json")
        again = alice_api.post(url, {"text": "Hello!", "client_id": "r1"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    body = first.json()
    assert (body["sequence"], body["direction"], body["author_type"], body["is_internal"]) == (
        3,
        "outbound",
        "agent",
        False,
    )
    assert body["author_agent"] == {"id": acme.alice.pk, "name": "Alice Agent"}
    assert body["content"]["text"] == "Hello!"
    assert again.json()["id"] == body["id"]
    created = [e for e in published if isinstance(e, events.MessageCreated)]
    assert [(e.sequence, e.author_type) for e in created] == [(3, "agent")]


def test_rich_content_is_validated(acme, alice_api, mine):
    url = f"{API}/threads/{mine.thread_id}/messages/"
    ok = alice_api.post(
        url,
        {"content_type": "QUICK_REPLIES", "content": {"payload": {"text": "Pick", "actions": [{"text": "Yes"}]}}},
        format="json",
    )
    assert ok.status_code == 201
    bad = alice_api.post(
        url, {"content_type": "RICH_LINK", "content": {"payload": {"title": "x", "url": "javascript:1"}}}, format="json"
    )
    assert bad.status_code == 400
    assert _error(bad)["code"] == "invalid_content"


def test_a_note_never_reaches_the_customer_side(acme, alice_api, mine):
    response = alice_api.post(f"{API}/threads/{mine.thread_id}/notes/", {"text": "VIP, be nice"}, format="json")
    assert response.status_code == 201
    assert response.json()["is_internal"] is True
    from chat import selectors

    customer_view = selectors.messages_after(thread=mine.thread, after_sequence=0, for_customer=True)
    assert [m.text for m in customer_view] == ["first", "second"]


def test_replying_to_someone_elses_contact_is_refused(acme, mine):
    bob = client_for(acme.bob)
    typing = bob.post(f"{API}/threads/{mine.thread_id}/typing/", {"is_typing": True}, format="json")
    assert (typing.status_code, _error(typing)["code"]) == (403, "not_assigned")
    response = bob.post(f"{API}/threads/{mine.thread_id}/messages/", {"text": "mine now"}, format="json")
    assert response.status_code == 403
    assert _error(response)["code"] == "not_assigned"
    assert Message.objects.filter(thread=mine.thread).count() == 2
    # A note is fine: colleagues may leave notes.
    assert bob.post(f"{API}/threads/{mine.thread_id}/notes/", {"text": "fyi"}, format="json").status_code == 201


def test_lock_and_unlock_a_messaging_thread(acme, alice_api, mine):
    assert alice_api.post(f"{API}/threads/{mine.thread_id}/lock/").json()["is_locked"] is True
    assert alice_api.post(f"{API}/threads/{mine.thread_id}/unlock/").json()["is_locked"] is False


def test_live_chats_are_ended_not_locked(acme, alice_api):
    live = assignment.contact_pick(contact=waiting_contact(acme, "v1", channel=acme.live), agent=acme.alice)
    response = alice_api.post(f"{API}/threads/{live.thread_id}/lock/")
    assert response.status_code == 409
    assert _error(response)["code"] == "not_messaging"
    ended = alice_api.post(f"{API}/contacts/{live.pk}/end/")
    assert ended.status_code == 200
    assert ended.json()["status"] == "closed"


def test_ending_a_messaging_contact_is_refused(acme, alice_api, mine):
    response = alice_api.post(f"{API}/contacts/{mine.pk}/end/")
    assert response.status_code == 409
    assert _error(response)["code"] == "not_live_chat"


def test_typing_and_seen(acme, alice_api, mine, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            alice_api.post(f"{API}/threads/{mine.thread_id}/typing/", {"is_typing": True}, format="json").status_code
            == 204
        )
        seen = alice_api.post(f"{API}/threads/{mine.thread_id}/seen/", {}, format="json")
    assert seen.json() == {"marked": 2}
    typing = [e for e in published if isinstance(e, events.TypingChanged)]
    assert [(e.actor, e.agent_id, e.is_typing) for e in typing] == [("agent", acme.alice.pk, True)]
    assert alice_api.get(f"{API}/inbox/counts/").json()["unread"] == 0


# --- Contact actions --------------------------------------------------------------------


def test_accept_a_waiting_contact(acme, alice_api):
    contact = waiting_contact(acme, "c1")
    response = alice_api.post(f"{API}/contacts/{contact.pk}/assign/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["assigned_agent"]["id"] == acme.alice.pk
    taken = client_for(acme.bob).post(f"{API}/contacts/{contact.pk}/assign/", {}, format="json")
    assert taken.status_code == 409
    assert _error(taken)["code"] == "already_assigned"


def test_only_administrators_assign_to_others(acme, alice_api):
    contact = waiting_contact(acme, "c1")
    refused = alice_api.post(f"{API}/contacts/{contact.pk}/assign/", {"agent_id": acme.bob.pk}, format="json")
    assert refused.status_code == 403
    done = client_for(acme.admin).post(f"{API}/contacts/{contact.pk}/assign/", {"agent_id": acme.bob.pk}, format="json")
    assert done.json()["assigned_agent"]["id"] == acme.bob.pk


def test_transfer_and_unassign(acme, alice_api, mine):
    moved = alice_api.post(f"{API}/contacts/{mine.pk}/transfer/", {"agent_id": acme.bob.pk}, format="json")
    assert moved.json()["assigned_agent"]["id"] == acme.bob.pk
    # alice no longer has it
    again = alice_api.post(f"{API}/contacts/{mine.pk}/transfer/", {"agent_id": acme.alice.pk}, format="json")
    assert again.status_code == 403
    bob = client_for(acme.bob)
    queued = bob.post(f"{API}/contacts/{mine.pk}/transfer/", {"queue_id": acme.queue.pk}, format="json").json()
    assert (queued["assigned_agent"], queued["queue"]["id"]) == (None, acme.queue.pk)
    assignment.contact_pick(contact=mine, agent=acme.bob)
    back = bob.post(f"{API}/contacts/{mine.pk}/unassign/").json()
    assert back["assigned_agent"] is None
    assert _error(alice_api.post(f"{API}/contacts/{mine.pk}/unassign/"))["code"] == "not_assigned"


def test_transfer_needs_one_known_target(acme, alice_api, mine):
    assert _error(alice_api.post(f"{API}/contacts/{mine.pk}/transfer/", {}, format="json"))["code"] == "invalid_input"
    unknown = alice_api.post(f"{API}/contacts/{mine.pk}/transfer/", {"agent_id": 999999}, format="json")
    assert (unknown.status_code, _error(unknown)["code"]) == (404, "agent_not_found")


def test_status_changes(acme, alice_api, mine):
    url = f"{API}/contacts/{mine.pk}/status/"
    assert alice_api.post(url, {"status": "pending"}, format="json").json()["status"] == "pending"
    assert alice_api.post(url, {"status": "escalated"}, format="json").json()["status"] == "escalated"
    resolved = alice_api.post(url, {"status": "resolved"}, format="json").json()
    assert resolved["status"] == "resolved"
    assert resolved["ended_at"] is not None
    refused = alice_api.post(url, {"status": "open"}, format="json")
    assert (refused.status_code, _error(refused)["code"]) == (409, "invalid_transition")
    assert alice_api.post(url, {"status": "sleeping"}, format="json").status_code == 400


def test_contact_custom_fields(acme, alice_api, mine):
    url = f"{API}/contacts/{mine.pk}/custom-fields/"
    ok = alice_api.patch(url, {"values": {"order_number": "A-17", "topic": "order"}}, format="json")
    assert ok.json()["custom_fields"] == {"order_number": "A-17", "topic": "order"}
    bad = alice_api.patch(url, {"values": {"topic": "weather"}}, format="json")
    assert bad.status_code == 400
    mine.refresh_from_db()
    assert mine.custom_fields == {"order_number": "A-17", "topic": "order"}


def test_customer_fields_are_editable(acme, alice_api, mine):
    url = f"{API}/customers/{mine.thread.customer_id}/"
    body = alice_api.patch(
        url, {"first_name": "Vera", "custom_fields": {"email": "vera@example.com"}}, format="json"
    ).json()
    assert (body["first_name"], body["custom_fields"]) == ("Vera", {"email": "vera@example.com"})
    assert alice_api.patch(url, {"custom_fields": {"email": "nope"}}, format="json").status_code == 400


# --- Presence, team, canned responses, attachments -------------------------------------------


def test_presence_drives_routing(acme, alice_api, django_capture_on_commit_callbacks):
    contact = waiting_contact(acme, "c1")
    with django_capture_on_commit_callbacks(execute=True):
        body = alice_api.put(
            f"{API}/presence/", {"presence": "available", "max_concurrent_contacts": 2}, format="json"
        ).json()
    assert body == {
        "presence": "available",
        "max_concurrent_contacts": 2,
        "load": 0,
        "channels": [
            {"id": acme.messaging.pk, "name": "Acme messaging", "availability": "online"},
            {"id": acme.live.pk, "name": "Acme live chat", "availability": "online"},
        ],
    }
    contact.refresh_from_db()
    assert contact.assigned_agent_id == acme.alice.pk
    assert alice_api.get(f"{API}/presence/").json()["load"] == 1
    away = alice_api.put(f"{API}/presence/", {"presence": "away"}, format="json").json()
    assert [c["availability"] for c in away["channels"]] == ["offline", "offline"]
    assert alice_api.put(f"{API}/presence/", {"presence": "busy"}, format="json").status_code == 400


def test_agents_and_queues(acme, alice_api, mine):
    agents = {a["username"]: a for a in alice_api.get(f"{API}/agents/").json()}
    assert set(agents) == {"acme-admin", "alice", "bob"}
    assert agents["alice"]["load"] == 1
    assert [q["name"] for q in alice_api.get(f"{API}/queues/").json()] == ["Acme support"]
    fields = alice_api.get(f"{API}/custom-fields/").json()
    assert {(f["scope"], f["ident"]) for f in fields} == {
        ("contact", "order_number"),
        ("contact", "topic"),
        ("customer", "email"),
        ("customer", "customer_since"),
    }


def test_canned_responses(acme, alice_api):
    admin = client_for(acme.admin)
    created = admin.post(
        f"{API}/canned-responses/", {"title": "Greeting", "shortcut": "/Hello", "text": "Hi there!"}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["shortcut"] == "hello"
    duplicate = admin.post(f"{API}/canned-responses/", {"title": "x", "shortcut": "hello", "text": "y"}, format="json")
    assert (duplicate.status_code, _error(duplicate)["code"]) == (409, "shortcut_taken")
    assert [r["shortcut"] for r in alice_api.get(f"{API}/canned-responses/?q=/he").json()] == ["hello"]
    refused = alice_api.post(f"{API}/canned-responses/", {"title": "t", "shortcut": "t", "text": "t"}, format="json")
    assert refused.status_code == 403
    pk = created.json()["id"]
    assert admin.patch(f"{API}/canned-responses/{pk}/", {"text": "Hello!"}, format="json").json()["text"] == "Hello!"
    assert admin.delete(f"{API}/canned-responses/{pk}/").status_code == 204
    assert CannedResponse.objects.count() == 0


def test_attachment_upload_send_and_signed_download(acme, alice_api, mine):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("receipt.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    created = alice_api.post(f"{API}/attachments/", {"thread_id": mine.thread_id, "file": upload}, format="multipart")
    assert created.status_code == 201
    attachment = created.json()
    assert (attachment["file_name"], attachment["size"]) == ("receipt.pdf", 13)
    sent = alice_api.post(
        f"{API}/threads/{mine.thread_id}/messages/",
        {"text": "Your receipt", "attachment_ids": [attachment["id"]]},
        format="json",
    ).json()
    assert [a["id"] for a in sent["attachments"]] == [attachment["id"]]
    detail = alice_api.get(f"{API}/attachments/{attachment['id']}/").json()
    path = detail["url"].split("127.0.0.1:8000", 1)[-1]
    download = APIClient().get(path)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 test"
    redirect = alice_api.get(f"{API}/attachments/{attachment['id']}/?download=1")
    assert redirect.status_code == 302
    html = SimpleUploadedFile("x.html", b"<script>1</script>", content_type="text/html")
    refused = alice_api.post(f"{API}/attachments/", {"thread_id": mine.thread_id, "file": html}, format="multipart")
    assert (refused.status_code, _error(refused)["code"]) == (400, "attachment_refused")


# --- Globex cannot see or touch Acme ------------------------------------------------------------


def test_globex_can_neither_read_nor_act_on_acme(acme, globex, mine, published, django_capture_on_commit_callbacks):
    globex_api = client_for(globex.admin)
    thread, contact, customer = mine.thread_id, mine.pk, mine.thread.customer_id
    reads = [
        f"{API}/threads/{thread}/",
        f"{API}/threads/{thread}/messages/",
        f"{API}/contacts/{contact}/",
        f"{API}/customers/{customer}/",
    ]
    for url in reads:
        response = globex_api.get(url)
        assert response.status_code == 404, url
        assert set(_error(response)) >= {"code", "message"}
    for view in ("all", "resolved", "closed", "queue", "mine"):
        assert globex_api.get(f"{API}/contacts/?view={view}").json()["count"] == 0
    assert globex_api.get(f"{API}/threads/").json()["count"] == 0
    writes = [
        ("post", f"{API}/threads/{thread}/messages/", {"text": "hi"}),
        ("post", f"{API}/threads/{thread}/notes/", {"text": "hi"}),
        ("post", f"{API}/threads/{thread}/lock/", {}),
        ("post", f"{API}/threads/{thread}/typing/", {"is_typing": True}),
        ("post", f"{API}/threads/{thread}/seen/", {}),
        ("post", f"{API}/contacts/{contact}/assign/", {}),
        ("post", f"{API}/contacts/{contact}/transfer/", {"agent_id": globex.admin.pk}),
        ("post", f"{API}/contacts/{contact}/unassign/", {}),
        ("post", f"{API}/contacts/{contact}/status/", {"status": "resolved"}),
        ("post", f"{API}/contacts/{contact}/end/", {}),
        ("patch", f"{API}/contacts/{contact}/custom-fields/", {"values": {"order_number": "x"}}),
        ("patch", f"{API}/customers/{customer}/", {"first_name": "Hacked"}),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for method, url, data in writes:
            response = getattr(globex_api, method)(url, data, format="json")
            assert response.status_code == 404, url
    # Acme's agent cannot be a transfer target of globex, nor acme queue
    mine.refresh_from_db()
    assert (mine.status, mine.assigned_agent_id, mine.custom_fields) == ("open", acme.alice.pk, {})
    assert mine.thread.customer.first_name == ""
    assert Message.objects.filter(thread_id=thread).count() == 2
    assert published == []
    canned = CannedResponse.objects.create(tenant=acme.tenant, title="t", shortcut="t", text="t")
    assert globex_api.get(f"{API}/canned-responses/").json() == []
    assert globex_api.get(f"{API}/canned-responses/{canned.pk}/").status_code == 404
    assert globex_api.delete(f"{API}/canned-responses/{canned.pk}/").status_code == 404
    assert {a["username"] for a in globex_api.get(f"{API}/agents/").json()} == {"globex-admin"}


def test_acme_agent_cannot_transfer_to_a_globex_agent_or_queue(acme, globex, alice_api, mine):
    response = alice_api.post(f"{API}/contacts/{mine.pk}/transfer/", {"agent_id": globex.admin.pk}, format="json")
    assert response.status_code == 404
    response = alice_api.post(f"{API}/contacts/{mine.pk}/transfer/", {"queue_id": globex.queue.pk}, format="json")
    assert response.status_code == 404
    mine.refresh_from_db()
    assert mine.assigned_agent_id == acme.alice.pk


def test_an_agent_outside_the_channels_queues_cannot_read_the_thread(acme, mine):
    acme.queue.agents.remove(acme.bob)
    response = client_for(acme.bob).get(f"{API}/threads/{mine.thread_id}/")
    assert response.status_code == 404


@pytest.mark.parametrize("extra", [0, 5])
def test_the_team_and_canned_lists_pin_their_query_count(acme, alice_api, django_assert_num_queries, user_model, extra):
    from tests.factories import MembershipFactory

    for n in range(extra):
        MembershipFactory(tenant=acme.tenant, user=user_model.objects.create_user(f"extra{n}"))
        CannedResponse.objects.create(tenant=acme.tenant, title=f"t{n}", shortcut=f"s{n}", text="x")
    # membership, members, loads
    with django_assert_num_queries(3):
        assert len(alice_api.get(f"{API}/agents/").json()) == 3 + extra
    # membership, responses
    with django_assert_num_queries(2):
        assert len(alice_api.get(f"{API}/canned-responses/").json()) == extra


@pytest.mark.parametrize("past", [0, 4])
def test_thread_detail_pins_its_query_count(acme, alice_api, mine, django_assert_num_queries, past):
    for n in range(past):
        services.thread_get_or_create(channel=acme.messaging, customer=mine.thread.customer, name=f"old {n}")
    # membership, thread, open contact, contact with relations, past threads
    with django_assert_num_queries(5):
        body = alice_api.get(f"{API}/threads/{mine.thread_id}/").json()
    assert len(body["past_threads"]) == past
