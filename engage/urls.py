"""Root URLs. Each app owns its ``urls`` module; this file only wires them."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from engage import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("files/<path:token>", views.signed_file, name="signed-file"),  # storage names contain "/"
    path("healthz", views.health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]

# Each app owns its URLs, mounted at the root; its paths carry their own prefix.
urlpatterns += [
    path("", include("chat.urls")),
    path("", include("guide.urls")),
    path("", include("byoc.urls")),
    path("", include("analytics.urls")),
]
