"""WebSocket routes: the visitor gateway and the agent console.

Each consumer module exposes ``websocket_urlpatterns``; they are joined here.
"""

from chat.console.routing import websocket_urlpatterns as console_routes
from chat.gateway.routing import websocket_urlpatterns as gateway_routes

websocket_urlpatterns = [*gateway_routes, *console_routes]
