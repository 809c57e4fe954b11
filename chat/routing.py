"""WebSocket routes: the visitor gateway and the agent console."""

from django.urls import path  # noqa: F401

websocket_urlpatterns: list = []
