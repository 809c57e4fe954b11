"""WebSocket routes of chat/gateway: the visitor socket at ``ws/visitor``."""

from django.urls import re_path

from chat.gateway.consumer import VisitorConsumer

websocket_urlpatterns: list = [re_path(r"^/?ws/visitor/?$", VisitorConsumer.as_asgi())]
