"""The project's URLs: the admin, the HTTP API, monitoring and the dashboard."""

from django.contrib import admin
from django.urls import include, path, re_path

from conductor.api import api, api_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    # Every path under /api/ answers JSON: the root (where django-ninja raises Django's HTML 404),
    # then the API's routes, then whatever they do not match.
    path("api/", api_not_found),
    path("api/", api.urls),
    re_path(r"^api/(?P<path>.*)$", api_not_found),
    path("", include("monitoring.urls")),
    path("", include("dashboard.urls")),
]
