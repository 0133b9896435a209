from django.contrib import admin
from django.urls import path

from conductor import views
from conductor.api import api

admin.site.site_header = "Conductor"
admin.site.site_title = "Conductor admin"
admin.site.index_title = "Agents, councilors and their runs"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
]
