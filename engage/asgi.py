"""ASGI entry point: HTTP through Django, WebSockets through Channels routes.

WebSocket routes live in ``chat/routing.py`` (visitor gateway, agent console;
only the console's routes go through Django's session and auth middleware).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engage.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from analytics.ingest import lifespan as analytics_lifespan  # noqa: E402
from analytics.ingest import mount as analytics_mount  # noqa: E402
from chat.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        # /analytics/1.0/… (the hottest path) is answered by a lean ASGI app before Django.
        "http": analytics_mount(django_asgi_app),
        "lifespan": analytics_lifespan,
        "websocket": websocket_application,
    }
)
