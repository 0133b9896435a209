"""The JSON HTTP API (docs/http-api.md, "HTTP API"), served with its OpenAPI schema by django-ninja.

Schema: /api/openapi.json (open), interactive docs: /api/docs (staff). Every error is a JSON object
`{"detail": <human text>, "code": <machine code>}` (400s add `errors`, one per bad field), on every
path under /api/, known or not (docs/http-api.md, "Errors"); times as docs/http-api.md, "Times" says.
"""

from datetime import datetime
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.common import no_append_slash
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder

from councilors.api import router as councilors_router
from gamification.api import router as gamification_router
from infrastructure.api_auth import api_auth, bearer_token_refusal
from infrastructure.api_errors import field_errors, http_error_text, invalid_detail
from infrastructure.timestamps import iso_utc

# In English here (the tests compare against them); every `detail` is worded in the language the
# request asks for (Accept-Language, through LocaleMiddleware) when it is answered. `code` never changes.
UNAUTHORIZED = gettext_noop(
    "Authentication required: log in, or send Authorization: Bearer <token> (manage.py ws_token)."
)
UNKNOWN_PATH = gettext_noop("No API endpoint at %(path)s; the endpoints are listed in /api/openapi.json.")
NOT_FOUND = gettext_noop("Not found.")
CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 429: "rate_limited"}


class StaffSwagger(Swagger):
    """Swagger UI for staff only, from django-ninja's bundled static files (`ninja` in INSTALLED_APPS), not a CDN."""

    # Not NinjaAPI(docs_decorator=...): django-ninja wraps the schema view in it too, and the schema stays open.
    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        if not (request.user.is_active and request.user.is_staff):
            return redirect_to_login(request.get_full_path())
        return super().render_page(request, api, **kwargs)


class ApiJSONEncoder(NinjaJSONEncoder):
    """django-ninja's encoder, with every datetime in the one format of the API (UTC, milliseconds, `Z`)."""

    def default(self, o: Any) -> Any:
        # DjangoJSONEncoder drops the milliseconds of a whole second and keeps a non-UTC offset as is.
        if isinstance(o, datetime):
            return iso_utc(o)
        return super().default(o)


class ApiRenderer(JSONRenderer):
    encoder_class = ApiJSONEncoder


api = NinjaAPI(
    title="Conductor gamification gateway",
    version="1.0",
    urls_namespace="api",
    auth=api_auth(),
    docs=StaffSwagger(),
    renderer=ApiRenderer(),
    description="Run agents, read their executions, metrics and councilors, stream run output (SSE).",
)


def error_response(request: HttpRequest, status: int, detail: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "code": CODES.get(status, "error"), **extra}, status=status)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # Worded for people, in the request's language (infrastructure/api_errors.py), not pydantic's text.
    errors = field_errors(exc.errors, body=request.body)
    listed = [{"field": error.field, "message": error.message} for error in errors]
    return error_response(request, 400, invalid_detail(errors), errors=listed)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    # A refused token says why (RFC 6750's invalid_token), so a client knows to mint a new one
    # rather than wonder whether its header arrived at all.
    refusal = bearer_token_refusal(request)
    response = error_response(request, 401, gettext(refusal or UNAUTHORIZED))
    response["WWW-Authenticate"] = 'Bearer error="invalid_token"' if refusal else "Bearer"
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, exc.status_code, http_error_text(exc.status_code, str(exc)))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, str(exc) or gettext(NOT_FOUND))


@no_append_slash  # a redirect to the same answer with a slash added would help no one
def api_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Every path under /api/ that no endpoint has (an empty execution id, a typo): the JSON 404."""
    return error_response(request, 404, gettext(UNKNOWN_PATH) % {"path": request.path})


api.add_router("", councilors_router)
api.add_router("", gamification_router)
