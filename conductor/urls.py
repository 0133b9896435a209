"""The project's URLs: the admin, the HTTP API, monitoring, the pages and their translations."""

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from conductor.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("monitoring.urls")),
    # The scripts' messages in the page's language (docs/dashboard.md, "Languages"), and the switch.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("dashboard.urls")),
]
