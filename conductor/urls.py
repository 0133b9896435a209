"""The project's URLs: the admin, the HTTP API, monitoring and the dashboard."""

from django.contrib import admin
from django.urls import include, path

from conductor.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("monitoring.urls")),
    path("", include("dashboard.urls")),
]
