"""HTTP through Parley's ASGI handler (engage.lib.asgi): Django's, without its per-request cycles."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler

from engage.lib.asgi import ASGIHandler
from tests.collector import cyclic_garbage
from tests.engage import slow_urls

pytestmark = pytest.mark.django_db(transaction=True)


async def _get(
    application: Any, path: str, *, server: str = "uvicorn", disconnect_early: bool = False
) -> list[dict[str, Any]]:
    """One request as an ASGI server makes it: the body, then ``receive`` reports a disconnect
    once the response is complete (``uvicorn``) or waits for the client to go (``daphne``); or,
    with ``disconnect_early``, the client is gone at once."""
    sent: list[dict[str, Any]] = []
    body_read = False
    complete, gone = asyncio.Event(), asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal body_read
        if not body_read:
            body_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if not disconnect_early:
            await (complete if server == "uvicorn" else gone).wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            complete.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await application(scope, receive, send)
    gone.set()
    return sent


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
async def test_a_request_leaves_nothing_for_the_cycle_collector(server):  # type: ignore[no-untyped-def]
    application = ASGIHandler()
    await _get(application, "/healthz", server=server)  # first use: what a process makes once
    cyclic_garbage()
    for _ in range(3):
        sent = await _get(application, "/healthz", server=server)
        assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    # No request, session, lazy user, message storage, task, frame or traceback: only the
    # connection objects of the request's own thread, which Django leaves whatever serves it.
    # (A view that raises, a 404 say, still leaves its exception's traceback in a cycle.)
    assert cyclic_garbage() == []


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
async def test_djangos_own_handler_leaves_each_request_in_cycles(server):  # type: ignore[no-untyped-def]
    """What the handler is for: if Django stops leaving these, engage.lib.asgi can go."""
    application = DjangoASGIHandler()
    await _get(application, "/healthz", server=server)
    cyclic_garbage()
    await _get(application, "/healthz", server=server)
    left = set(cyclic_garbage())
    assert {"ASGIRequest", "SessionStore", "SimpleLazyObject"} <= left
    if server == "uvicorn":  # the listener's RequestAborted, through handle's frame
        assert {"RequestAborted", "Task", "traceback"} <= left


async def test_a_client_gone_before_the_answer_gets_nothing(settings):  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = "tests.engage.slow_urls"
    sent = await asyncio.wait_for(_get(ASGIHandler(), "/slow", disconnect_early=True), 5)
    assert sent == []  # the response task was cancelled before it answered
    # Django cancels the view only while it runs in the event loop; once a synchronous
    # middleware has taken it to a worker thread it finishes there. Let it, before the next test.
    await asyncio.sleep(0.3)
    slow_urls.SEEN.clear()


async def test_a_cancelled_handler_leaves_the_request_whole_for_the_view_still_running(settings):  # type: ignore[no-untyped-def]
    """A server cancels the application at its shutdown or close timeout; Django's view task
    goes on, and must still find its request."""
    settings.ROOT_URLCONF = "tests.engage.slow_urls"
    slow_urls.SEEN.clear()
    handling = asyncio.create_task(_get(ASGIHandler(), "/slow", server="daphne"))
    await asyncio.sleep(0.05)
    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling
    for _ in range(50):
        if slow_urls.SEEN:
            break
        await asyncio.sleep(0.02)
    assert slow_urls.SEEN == ["/slow"]


def test_the_application_serves_http_through_it():  # type: ignore[no-untyped-def]
    import engage.asgi

    assert type(engage.asgi.django_asgi_app) is ASGIHandler
