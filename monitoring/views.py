"""Operational endpoints outside /api/: /healthz for load balancers, /metrics for Prometheus."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext, gettext_noop
from prometheus_client import CONTENT_TYPE_LATEST

from infrastructure.api_auth import request_user
from infrastructure.app_settings import app_settings
from monitoring.health import health_checks, metrics_exposition

UNAUTHORIZED = gettext_noop(
    "Authentication required: log in, or send Authorization: Bearer <token> (manage.py ws_token)."
)


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, Redis and a worker cluster answer; 503 naming the failing parts otherwise.

    Open to anyone: load balancers carry no credentials, so it tells only what is up, never why not.
    """
    checks = health_checks()
    failing = [name for name, state in checks.items() if not state["ok"]]
    body = {"status": "unavailable" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; needs the API's authentication unless API_METRICS_PUBLIC is set."""
    if not app_settings.METRICS_PUBLIC and request_user(request) is None:
        response = JsonResponse({"detail": gettext(UNAUTHORIZED), "code": "unauthorized"}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)
