from django.urls import include, path

urlpatterns = [
    path("", include("guide.loader.urls")),  # per-channel loader, demo shop
    path("", include("guide.proactive.urls")),  # rules, triggers, chat items, availability probability
]
