"""HTTP endpoints of the visitor protocol (CXone Chat Web SDK 2.2.0 compatible).

The SDK builds ``{chat}/chat/1.0/brand/{brandId}/channel/{channelId}…`` by
string concatenation and always posts tokens to ``/oauth/token`` at the origin
of ``authorize``. See docs/visitor-protocol.md.
"""

from django.urls import path, re_path

from chat.gateway import views

# "(?:/)?" also accepts "//chat/…", which a base URL with a trailing slash produces.
_CHANNEL = r"^(?:/)?chat/1\.0/brand/(?P<brand_id>[^/]+)/channel/(?P<channel_id>[^/]+)"

urlpatterns = [
    re_path(_CHANNEL + r"$", views.channel_info, name="gateway-channel-info"),
    re_path(_CHANNEL + r"/availability$", views.channel_availability, name="gateway-availability"),
    re_path(_CHANNEL + r"/attachment$", views.attachment_upload, name="gateway-attachment"),
    re_path(
        _CHANNEL + r"/attachment/(?P<token>[A-Za-z0-9_\-:]+)$", views.attachment_file, name="gateway-attachment-file"
    ),
    path("chat/1.0/event/<path:token>", views.large_event, name="gateway-large-event"),
    path("oauth/token", views.oauth_token, name="gateway-oauth-token"),
]
