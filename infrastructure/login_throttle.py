"""django-axes as this project uses it: its backend, and the page a locked-out login gets, in the site's language.

conductor/settings/base.py configures the throttling itself (docs/security.md, "Logins are throttled").
"""

import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

LOCKED_OUT_TEMPLATE = "infrastructure/locked_out.html"


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """429 and a page that says why and for how long, without saying whether the username exists."""
    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": math.ceil(cool_off.total_seconds() / 60) if cool_off else None,
    }
    return render(request, LOCKED_OUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE)


class LoginThrottleBackend(AxesStandaloneBackend):
    """axes' lock-out check for every login that comes with a request (the login forms).

    A check without a request (`authenticate()` in a shell or a script, a test client's `login()`)
    has no client address to count or lock, and axes' own backend would fail it with an error:
    it is left to the next backend, as if axes were not there.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
