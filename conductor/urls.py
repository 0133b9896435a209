"""The project's URLs: the admin, the HTTP API, monitoring, the pages and their translations."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog

from conductor.api import api, api_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    # Every path under /api/ answers JSON: the root (where django-ninja raises Django's HTML 404),
    # then the API's routes, then whatever they do not match.
    path("api/", api_not_found),
    path("api/", api.urls),
    re_path(r"^api/(?P<path>.*)$", api_not_found),
    path("", include("monitoring.urls")),
    # The scripts' messages in the page's language (docs/dashboard.md, "Languages"), and the switch.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("dashboard.urls")),
]
