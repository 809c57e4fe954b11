"""WebSocket routes: the visitor gateway and the agent console.

Each consumer module exposes ``websocket_urlpatterns``; they are joined here.
Only the console needs Django's session and user (``AuthMiddlewareStack``).
The visitor socket authenticates itself at the upgrade (channel, Origin, signed
token) and skips that middleware, which would cost every visitor upgrade a
session lookup and a thread hop.
"""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import re_path

from chat.console.routing import websocket_urlpatterns as console_routes
from chat.gateway.routing import websocket_urlpatterns as gateway_routes

websocket_urlpatterns = [*gateway_routes, re_path(r"", AuthMiddlewareStack(URLRouter(console_routes)))]
