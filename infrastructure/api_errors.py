"""The HTTP API's 400s worded for people, in the request's language (docs/http-api.md, "Errors").

django-ninja hands over pydantic's errors ("Field required", "Value error, …", "String should have
at most 120 characters"): each becomes one sentence that names its field, from the table below.
A field validator's own refusal (a ValueError raised with a message of the project, already in the
request's language) is kept as it is, without pydantic's "Value error, " in front.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils.decorators import sync_and_async_middleware
from django.utils.translation import gettext, gettext_noop

INVALID = gettext_noop("Invalid request: %(messages)s")
BODY_NOT_JSON = gettext_noop('The body is not valid JSON: send a JSON object, e.g. {"prompt": "Check"}.')
BODY_NOT_OBJECT = gettext_noop('The body must be a JSON object, e.g. {"prompt": "Check"}.')
BODY_MISSING = gettext_noop('The request has no body: send a JSON object, e.g. {"prompt": "Check"}.')
FIELD_INVALID = gettext_noop('"%(field)s" is not valid.')
METHOD_NOT_ALLOWED = gettext_noop("%(method)s is not allowed on %(path)s; it answers %(allowed)s.")
METHOD_NOT_ALLOWED_CODE = "method_not_allowed"
API_PREFIX = "/api/"
# pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/), worded.
FIELD_MESSAGES = {
    "missing": gettext_noop('"%(field)s" is required.'),
    "string_type": gettext_noop('"%(field)s" must be a string.'),
    "string_unicode": gettext_noop(
        '"%(field)s" must be valid Unicode text: it contains a lone surrogate (U+D800 to U+DFFF).'
    ),
    "string_too_long": gettext_noop('"%(field)s" must be at most %(max_length)s characters.'),
    "string_too_short": gettext_noop('"%(field)s" must be at least %(min_length)s characters.'),
    "int_type": gettext_noop('"%(field)s" must be a whole number.'),
    "int_parsing": gettext_noop('"%(field)s" must be a whole number.'),
    "bool_type": gettext_noop('"%(field)s" must be true or false.'),
    "bool_parsing": gettext_noop('"%(field)s" must be true or false.'),
    "literal_error": gettext_noop('"%(field)s" must be one of %(expected)s.'),
}
# The text django-ninja answers a body it cannot parse with (ninja/params/models.py, pinned in requirements.txt).
NINJA_UNPARSABLE_BODY = "Cannot parse request body"
# django-ninja's other texts (ninja/errors.py's Throttled, ninja/security/apikey.py's CSRF check), worded
# in the request's language; the English stays django-ninja's own.
NINJA_TEXTS = {
    "Too many requests.": gettext_noop("Too many requests."),
    "CSRF check Failed": gettext_noop("CSRF check Failed"),
}
BODY = "body"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


def _field(loc: list[Any] | tuple[Any, ...]) -> str:
    # loc is (source, [body parameter,] field...): keep the part a client wrote.
    parts = list(loc[1:])
    if loc and loc[0] == BODY and len(parts) > 1:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or str(loc[0] if loc else BODY)


def _body_is_json_but_not_an_object(body: bytes) -> bool:
    try:
        return not isinstance(json.loads(body), dict)
    except ValueError:
        return False


def _message(error: dict[str, Any], field: str) -> str:
    kind, context = error.get("type", ""), error.get("ctx") or {}
    if kind == "value_error" and context.get("error"):
        return str(context["error"])
    if kind == "missing" and field == BODY:
        return gettext(BODY_MISSING)
    template = FIELD_MESSAGES.get(kind, FIELD_INVALID)
    return gettext(template) % {**{name: value for name, value in context.items()}, "field": field}


def field_errors(errors: list[dict[str, Any]], *, body: bytes = b"") -> list[FieldError]:
    """pydantic's `errors` (as django-ninja passes them) as one sentence per bad field."""
    if body and _body_is_json_but_not_an_object(body):
        # A JSON list or string reads as an object without fields: "prompt is required" would mislead.
        return [FieldError(BODY, gettext(BODY_NOT_OBJECT))]
    worded = []
    for error in errors:
        field = _field(error.get("loc", []))
        worded.append(FieldError(field, _message(error, field)))
    return worded


def invalid_detail(errors: list[FieldError]) -> str:
    """The `detail` of a 400 with these field errors."""
    return gettext(INVALID) % {"messages": " ".join(error.message for error in errors)}


def http_error_text(status: int, text: str) -> str:
    """An HttpError's text as the API answers it: ninja's own in the request's language, a bad body as other 400s."""
    if status == 400 and text.startswith(NINJA_UNPARSABLE_BODY):
        return gettext(BODY_NOT_JSON)
    if text in NINJA_TEXTS:
        return gettext(NINJA_TEXTS[text])
    return text


def _json_not_allowed(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """django-ninja's plain-text 405 on an API path as the API's other errors are: JSON, in the request's language."""
    if (
        response.status_code != 405
        or not request.path.startswith(API_PREFIX)
        or response.get("Content-Type", "").startswith("application/json")
    ):
        return response
    allowed = response.get("Allow", "")
    detail = gettext(METHOD_NOT_ALLOWED) % {"method": request.method, "path": request.path, "allowed": allowed}
    answer = JsonResponse({"detail": detail, "code": METHOD_NOT_ALLOWED_CODE}, status=405)
    answer["Allow"] = allowed
    return answer


@sync_and_async_middleware
def api_method_not_allowed(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]:
    """Middleware: a 405 under /api/ answers JSON like every other API error (docs/http-api.md, "Errors")."""
    if asyncio.iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponseBase:
            return _json_not_allowed(request, await get_response(request))

    else:

        def middleware(request: HttpRequest) -> HttpResponseBase:  # type: ignore[misc]
            return _json_not_allowed(request, get_response(request))

    return middleware
