"""WebSocket routes of chat/console: the agent console socket at ``ws/console``."""

from django.urls import re_path

from chat.console.consumer import ConsoleConsumer

websocket_urlpatterns: list = [re_path(r"^/?ws/console/?$", ConsoleConsumer.as_asgi())]
