from django.urls import re_path

from analytics import views

# The lean ASGI app (analytics.ingest.mount) answers these first under ASGI;
# this route serves the same handler to everything that goes through Django.
urlpatterns = [
    re_path(r"^analytics/1\.0/brand/[0-9]{1,10}/channel/[^/]{1,64}/events$", views.ingest, name="analytics-events"),
    re_path(r"^analytics/1\.0/brand/[0-9]{1,10}/channel/[^/]{1,64}/page-views/[^/]{1,100}$", views.ingest),
]
