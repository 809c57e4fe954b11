from django.urls import path, re_path

from guide.loader import views

urlpatterns = [
    re_path(
        r"^loader/(?P<brand_id>[0-9]{1,10})/(?P<channel_id>[A-Za-z0-9_\-]{1,64})\.js$", views.loader, name="loader"
    ),
    path("demo/", views.demo_home, name="demo-home"),
    path("demo/products/<slug:slug>/", views.demo_product, name="demo-product"),
    path("demo/pricing/", views.demo_pricing, name="demo-pricing"),
    path("demo/help/", views.demo_help, name="demo-help"),
    path("demo/live/", views.demo_live, name="demo-live"),
    path("demo/strict/", views.demo_strict, name="demo-strict"),
]
