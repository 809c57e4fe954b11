"""WebSocket routes of chat/console."""

websocket_urlpatterns: list = []
