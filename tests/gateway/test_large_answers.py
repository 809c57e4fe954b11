"""Large answers (a page of big messages) are rendered by a render process, not the sockets' process.

Real spawned processes on the test database: these tests commit (transaction=True)
so that a render process, with its own connection, sees what they wrote.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.files.storage import default_storage
from django.db import connection

from chat import selectors, services
from chat.gateway.handlers.large import RENDERERS, LargeAnswer, large_answer_text
from chat.gateway.large_events import large_event_read
from chat.models import Message, Thread

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async
BIG = "€" * 15998  # three of them are a frame of 144 KB: past the socket's limit of 128 KiB


@pytest.fixture
def renderers(settings):  # type: ignore[no-untyped-def]
    settings.PARLEY_GATEWAY_RENDER_PROCESSES = 1
    yield RENDERERS
    RENDERERS.shutdown()


def large_thread(acme: Any, public_id: str, count: int = 3) -> Thread:
    thread, _ = services.thread_get_or_create(channel=acme.messaging, customer=acme.visitor, public_id=public_id)
    for number in range(count):
        services.message_create(thread=thread, author_type="customer", content={"text": f"{number}{BIG}"})
    return thread


def fetched(frame: dict[str, Any]) -> dict[str, Any]:
    """The frame behind an ``EventInS3`` push, as the SDK fetches it."""
    assert frame["eventType"] == "EventInS3", frame
    body = large_event_read(frame["data"]["s3Object"]["url"].rsplit("/chat/1.0/event/", 1)[1])
    assert body is not None
    return json.loads(body)  # type: ignore[no-any-return]


def texts(frame: dict[str, Any]) -> list[str]:
    return [message["messageContent"]["payload"]["text"][:2] for message in frame["postback"]["data"]["messages"]]


def refuse(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the sockets' process rendered a large answer")


async def test_a_large_recover_is_rendered_apart_exactly_as_here(
    acme, visitor_socket, renderers, monkeypatch, settings
):  # type: ignore[no-untyped-def]
    await db(large_thread)(acme, "large-1")
    await renderers.warm()
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    # The sockets' process cannot render it: only a render process can have answered.
    monkeypatch.setattr(LargeAnswer, "frame", refuse)
    asked = await visitor.send("RecoverThread", {"thread": {"idOnExternalPlatform": "large-1"}})
    apart = fetched(await visitor.push("EventInS3"))
    assert apart["eventId"] == asked
    assert apart["postback"]["eventType"] == "ThreadRecovered"
    assert texts(apart) == ["2€", "1€", "0€"]
    assert apart["postback"]["data"]["messagesScrollToken"] == ""
    # Without render processes the same request is answered with the same frame, rendered here.
    monkeypatch.undo()
    settings.PARLEY_GATEWAY_RENDER_PROCESSES = 0
    await visitor.send("RecoverThread", {"thread": {"idOnExternalPlatform": "large-1"}})
    here = fetched(await visitor.push("EventInS3"))
    assert {**here, "eventId": asked} == apart


async def test_a_small_recover_never_starts_a_render_process(acme, visitor_socket, renderers):  # type: ignore[no-untyped-def]
    thread, _ = await db(services.thread_get_or_create)(
        channel=acme.messaging, customer=acme.visitor, public_id="small-1"
    )
    await db(services.message_create)(thread=thread, author_type="customer", content={"text": "hello"})
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    answer = await visitor.request("RecoverThread", {"thread": {"idOnExternalPlatform": "small-1"}})
    assert answer["postback"]["eventType"] == "ThreadRecovered"
    assert [m["messageContent"]["payload"]["text"] for m in answer["postback"]["data"]["messages"]] == ["hello"]
    assert renderers.started is False


async def test_a_dead_render_process_costs_the_answer_nothing(acme, visitor_socket, renderers, caplog):  # type: ignore[no-untyped-def]
    await db(large_thread)(acme, "large-2")
    first = await renderers.run(os.getpid)
    os.kill(first, signal.SIGKILL)
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    asked = await visitor.send("RecoverThread", {"thread": {"idOnExternalPlatform": "large-2"}})
    recovered = fetched(await visitor.push("EventInS3"))
    assert (recovered["eventId"], texts(recovered)) == (asked, ["2€", "1€", "0€"])
    assert "ThreadRecovered not rendered apart; rendering it here" in caplog.text
    # The next large answer has a new render process.
    assert renderers.started is False
    await renderers.warm()
    second = await renderers.run(os.getpid)
    assert second not in (first, os.getpid())


async def test_a_large_page_of_older_messages_is_rendered_apart(acme, visitor_socket, renderers, monkeypatch, settings):  # type: ignore[no-untyped-def]
    settings.PARLEY_GATEWAY_PAGE_SIZE = 3
    await db(large_thread)(acme, "large-3", count=5)
    await renderers.warm()
    visitor = await visitor_socket(acme.messaging, customer=acme.visitor)
    monkeypatch.setattr(LargeAnswer, "frame", refuse)
    asked = await visitor.send("RecoverThread", {"thread": {"idOnExternalPlatform": "large-3"}})
    recovered = fetched(await visitor.push("EventInS3"))
    assert (recovered["eventId"], texts(recovered)) == (asked, ["4€", "3€", "2€"])
    token = recovered["postback"]["data"]["messagesScrollToken"]
    assert token == "3"
    thread_ref = {"idOnExternalPlatform": "large-3"}
    asked = await visitor.send("LoadMoreMessages", {"thread": thread_ref, "scrollToken": token})
    older = fetched(await visitor.push("EventInS3"))
    assert older["eventId"] == asked
    assert older["postback"]["eventType"] == "MoreMessagesLoaded"
    assert texts(older) == ["1€", "0€"]
    assert older["postback"]["data"]["scrollToken"] == ""


async def test_globex_cannot_have_acme_large_thread_rendered(acme, globex, visitor_socket, renderers):  # type: ignore[no-untyped-def]
    await db(large_thread)(acme, "large-4")
    intruder = await visitor_socket(globex.messaging, customer=globex.visitor)
    for event_type, data in [
        ("RecoverThread", {"thread": {"idOnExternalPlatform": "large-4"}}),
        ("LoadMoreMessages", {"thread": {"idOnExternalPlatform": "large-4"}, "scrollToken": "3"}),
    ]:
        answer = await intruder.request(event_type, data)
        assert answer["error"]["reason"] == "thread_not_found", event_type
    assert renderers.started is False
    assert not default_storage.exists("large-events")


def test_a_thread_gone_before_its_rendering_is_an_error_frame(acme):  # type: ignore[no-untyped-def]
    thread = large_thread(acme, "large-5")
    answer = LargeAnswer(
        event_id="e-1",
        event_type="ThreadRecovered",
        data={"messages": [], "messagesScrollToken": ""},
        token_key="messagesScrollToken",
        thread_id=thread.pk,
        customer_id=acme.visitor.pk,
        bot_name="",
    )
    thread.delete()
    error = json.loads(large_answer_text(answer, "http://testserver"))
    assert (error["eventId"], error["error"]["reason"]) == ("e-1", "thread_not_found")


def test_the_stored_size_is_the_content_column_read_raw(acme):  # type: ignore[no-untyped-def]
    thread = large_thread(acme, "large-6", count=4)
    services.message_create(
        thread=thread, author_type="agent", agent=acme.alice, content={"text": "x"}, is_internal=True
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sequence, content FROM chat_message WHERE thread_id = %s AND NOT is_internal", [thread.pk]
        )
        stored = {sequence: len(content) for sequence, content in cursor.fetchall()}
    assert len(stored) == 4
    newest_two = stored[4] + stored[3]
    assert (
        selectors.messages_stored_size(thread=thread, after_sequence=None, before_sequence=None, limit=2) == newest_two
    )
    assert selectors.messages_stored_size(thread=thread, after_sequence=None, before_sequence=3, limit=5) == (
        stored[1] + stored[2]
    )
    assert selectors.messages_stored_size(thread=thread, after_sequence=2, before_sequence=None, limit=1) == stored[3]
    assert Message.objects.filter(thread=thread).count() == 5
