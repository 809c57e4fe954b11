from django.urls import path

from chat.console import views

urlpatterns = [
    path("console/", views.console, name="console"),
]
