from django.urls import path

from guide.proactive import views

urlpatterns = [
    path("guide/1.0/brand/<int:brand_id>/channel/<str:channel_id>/proactive", views.proactive, name="guide-proactive"),
    path(
        "guide/1.0/brand/<int:brand_id>/channel/<str:channel_id>/availability",
        views.availability,
        name="guide-availability",
    ),
]
