"""WebSocket routing: visitor upgrades reach the gateway's consumer with their scope as is; the rest goes on."""

from __future__ import annotations

import pytest

from chat.gateway.consumer import VisitorConsumer
from chat.gateway.routing import websocket_urlpatterns as gateway_routes
from chat.routing import WebsocketRouter


def router(calls: list) -> WebsocketRouter:  # type: ignore[type-arg]
    async def other(scope, receive, send):  # type: ignore[no-untyped-def]
        calls.append(("other", scope["path"]))

    return WebsocketRouter(gateway_routes, other)


async def test_visitor_paths_get_a_visitor_consumer_and_the_scope_itself(monkeypatch):  # type: ignore[no-untyped-def]
    seen = []

    async def consumer_call(self, scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append((type(self), scope))

    monkeypatch.setattr(VisitorConsumer, "__call__", consumer_call)
    calls: list = []  # type: ignore[type-arg]
    for path, root_path in [("/ws/visitor", ""), ("/ws/visitor/", ""), ("/chat/ws/visitor", "/chat")]:
        scope = {"type": "websocket", "path": path, "root_path": root_path}
        await router(calls)(scope, None, None)
        assert seen[-1][0] is VisitorConsumer
        assert seen[-1][1] is scope  # not a copy
    assert calls == []


async def test_other_paths_go_to_the_next_application():  # type: ignore[no-untyped-def]
    calls: list = []  # type: ignore[type-arg]
    for path in ("/ws/console", "/ws/visitorx", "/x/ws/visitor"):
        await router(calls)({"type": "websocket", "path": path}, None, None)
    assert calls == [("other", "/ws/console"), ("other", "/ws/visitorx"), ("other", "/x/ws/visitor")]


async def test_the_application_still_refuses_unknown_paths():  # type: ignore[no-untyped-def]
    from chat.routing import websocket_application

    with pytest.raises(ValueError, match="No route found"):
        await websocket_application({"type": "websocket", "path": "/ws/nope", "headers": []}, None, None)
