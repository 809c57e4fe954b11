from django.urls import include, path

urlpatterns = [
    path("", include("chat.gateway.urls")),  # visitor protocol HTTP endpoints (/chat/1.0/…, /oauth/token)
    path("", include("chat.console.urls")),  # agent console pages (/console/…)
    path("api/v1/", include("chat.api.urls")),  # agent REST API
]
