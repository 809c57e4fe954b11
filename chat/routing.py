"""WebSocket routes: the visitor gateway and the agent console.

Each consumer module exposes ``websocket_urlpatterns``; ``websocket_application``
serves both. Only the console needs Django's session and user
(``AuthMiddlewareStack``). The visitor socket authenticates itself at the
upgrade (channel, Origin, signed token) and skips that middleware, which would
cost every visitor upgrade a session lookup and a thread hop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter

from chat.console.routing import websocket_urlpatterns as console_routes
from chat.gateway.routing import websocket_urlpatterns as gateway_routes


class WebsocketRouter:
    """Visitor routes first, then everything else (``other``, a Channels application).

    Visitor upgrades come by the thousand per second after a restart and their
    sockets stay open for hours, so they are handed the scope as is: no copy of
    the scope (``URLRouter`` makes one per socket, with ``url_route``, which the
    visitor consumer does not use) and no router frame kept alive per socket.
    """

    def __init__(self, visitor_routes: list[Any], other: Callable[..., Awaitable[None]]) -> None:
        self.visitor_routes = [
            (route.pattern, route.callback.consumer_class, route.callback.consumer_initkwargs)
            for route in visitor_routes
        ]
        self.other = other

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        """Not a coroutine function: it returns the consumer's own coroutine for the caller to await."""
        path = scope.get("path", "")
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        path = path.lstrip("/")
        for pattern, consumer, initkwargs in self.visitor_routes:
            if pattern.match(path):
                return consumer(**initkwargs)(scope, receive, send)
        return self.other(scope, receive, send)


websocket_application = WebsocketRouter(gateway_routes, AuthMiddlewareStack(URLRouter(console_routes)))
