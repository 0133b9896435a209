"""The live dashboard page (docs/dashboard.md, "The live dashboard")."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.selectors import dashboard_config_get


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The dashboard: server-rendered first picture, kept live by static/js/dashboard/main.js."""
    return render(request, "dashboard/index.html", {"config": dashboard_config_get(user=request.user)})
