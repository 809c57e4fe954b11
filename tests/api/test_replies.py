"""The reply path's one-query lookup agrees with ``thread_for_agent`` (+ ``thread_check_reply`` for replies)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import assignment, inbox, services
from chat.errors import ThreadNotFound
from chat.models import Contact
from engage.errors import PermissionDenied
from tests.console.helpers import waiting_contact

pytestmark = pytest.mark.django_db


def _verdict(check, *args) -> str:  # type: ignore[no-untyped-def]
    try:
        check(*args)
    except ThreadNotFound:
        return "thread_not_found"
    except PermissionDenied as error:
        return error.code
    return "ok"


def _two_steps(agent, thread_id) -> None:  # type: ignore[no-untyped-def]
    thread = inbox.thread_for_agent(agent=agent, thread_id=thread_id)
    inbox.thread_check_reply(agent=agent, thread=thread)


def _read_step(agent, thread_id) -> None:  # type: ignore[no-untyped-def]
    inbox.thread_for_agent(agent=agent, thread_id=thread_id)


def _for_reply(agent, thread_id) -> None:  # type: ignore[no-untyped-def]
    _one_query(agent, thread_id, note=False)


def _for_note(agent, thread_id) -> None:  # type: ignore[no-untyped-def]
    _one_query(agent, thread_id, note=True)


def _one_query(agent, thread_id, *, note: bool) -> None:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        try:
            thread = inbox.thread_for_reply(agent=agent, thread_id=thread_id, note=note)
        finally:
            assert len(queries) <= 1  # none for an id that is not a number
    assert thread.pk == int(thread_id)


def test_same_verdict_in_every_case(acme, globex):
    alices = assignment.contact_pick(contact=waiting_contact(acme, "c1"), agent=acme.alice)
    waiting = waiting_contact(acme, "c2")
    ended = assignment.contact_pick(contact=waiting_contact(acme, "c3"), agent=acme.bob)
    services.contact_set_status(contact=ended, status=Contact.Status.CLOSED, by=acme.bob)
    scenes = {
        "alice's contact": alices.thread_id,
        "unassigned open contact": waiting.thread_id,
        "no open contact": ended.thread_id,
    }
    expected = {
        ("alice", "alice's contact"): "ok",
        ("alice", "unassigned open contact"): "not_assigned",
        ("alice", "no open contact"): "ok",
        ("bob", "alice's contact"): "not_assigned",
        ("bob", "unassigned open contact"): "not_assigned",
        ("bob", "no open contact"): "ok",
        ("admin", "alice's contact"): "ok",
        ("admin", "unassigned open contact"): "ok",
        ("admin", "no open contact"): "ok",
        ("globex", "alice's contact"): "thread_not_found",
        ("globex", "unassigned open contact"): "thread_not_found",
        ("globex", "no open contact"): "thread_not_found",
    }
    agents = {"alice": acme.alice, "bob": acme.bob, "admin": acme.admin, "globex": globex.admin}
    for (who, scene), verdict in expected.items():
        agent, thread_id = agents[who], scenes[scene]
        assert _verdict(_two_steps, agent, thread_id) == verdict, (who, scene)
        assert _verdict(_for_reply, agent, thread_id) == verdict, (who, scene)
        # A note needs only to read the thread.
        note = "thread_not_found" if verdict == "thread_not_found" else "ok"
        assert _verdict(_read_step, agent, thread_id) == note, (who, scene)
        assert _verdict(_for_note, agent, thread_id) == note, (who, scene)
    for bad in ("x", None, 10**12):
        assert _verdict(_for_reply, acme.alice, bad) == "thread_not_found"


def test_an_agent_outside_the_threads_queues_finds_nothing(acme):
    alices = assignment.contact_pick(contact=waiting_contact(acme, "c1"), agent=acme.alice)
    acme.queue.agents.remove(acme.alice)
    assert _verdict(_two_steps, acme.alice, alices.thread_id) == "thread_not_found"
    assert _verdict(_for_reply, acme.alice, alices.thread_id) == "thread_not_found"
    assert _verdict(_for_note, acme.alice, alices.thread_id) == "thread_not_found"


def test_the_reply_endpoint_refuses_bad_input_as_a_fresh_serializer_would(acme):
    from rest_framework.test import APIClient

    from chat.api.serializers import MessageInputSerializer

    contact = assignment.contact_pick(contact=waiting_contact(acme, "c1"), agent=acme.alice)
    client = APIClient()
    client.force_authenticate(acme.alice.user)
    url = f"/api/v1/threads/{contact.thread_id}/messages/"
    for body in (
        {"text": "hi", "is_internal": "maybe", "attachment_ids": ["x"], "content_type": "HTML"},
        {"text": "hi", "client_id": "x" * 201},
        ["not", "an", "object"],
    ):
        fresh = MessageInputSerializer(data=body)
        assert not fresh.is_valid()
        response = client.post(url, body, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "error": {
                "code": "invalid_input",
                "message": "The input is invalid.",
                "details": json.loads(json.dumps(fresh.errors)),
            }
        }
    assert contact.thread.messages.count() == 1
