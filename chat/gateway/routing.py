"""WebSocket routes of chat/gateway."""

websocket_urlpatterns: list = []
