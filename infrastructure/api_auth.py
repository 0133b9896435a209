"""Who may call the HTTP API (docs/http-api.md, "HTTP API"): the Django session or `Authorization: Bearer <jwt>`,
plus permission checks and the per-user rate limit on `execute`."""

from typing import Any

import jwt
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_noop
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer, SessionAuth
from ninja.throttling import BaseThrottle

from infrastructure.rate_limits import EXECUTE_SCOPE, execute_rate_take, execute_rate_wait
from infrastructure.tokens import InvalidToken, token_user

# In English here (the tests compare against them), in the request's language when answered.
FORBIDDEN = gettext_noop("You need the %(permission)s permission for this.")
TOKEN_EXPIRED = gettext_noop("The bearer token has expired: mint a new one (manage.py ws_token <username>).")
TOKEN_INVALID = gettext_noop(
    "The bearer token is invalid (malformed, not signed with this server's key, or naming an unknown "
    "or inactive user): mint a new one (manage.py ws_token <username>)."
)
BEARER = "bearer"


def _checked(user: AbstractBaseUser | None, permission: str | None) -> AbstractBaseUser | None:
    # Raising (not returning None) makes ninja answer 403 at once instead of trying the next method.
    if user is not None and permission and not user.has_perm(permission):  # type: ignore[attr-defined]
        raise AuthorizationError(message=gettext(FORBIDDEN) % {"permission": permission})
    return user


class BearerTokenAuth(HttpBearer):
    """`Authorization: Bearer <token>` as minted by `manage.py ws_token` (infrastructure.tokens)."""

    def __init__(self, *, permission: str | None = None) -> None:
        super().__init__()
        self.permission = permission

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        try:
            user = token_user(token)
        except InvalidToken:
            return None
        return _checked(user, self.permission)


class SessionUserAuth(SessionAuth):
    """The Django session (browsers on the same site); unsafe methods also need the CSRF token."""

    def __init__(self, *, permission: str | None = None) -> None:
        super().__init__()
        self.permission = permission

    def _get_key(self, request: HttpRequest) -> str | None:
        # CSRF protects a session a browser sends by itself. A request that carries no logged-in
        # session has nothing to forge: it falls through to 401 (a program whose bearer token was
        # missing or refused learns that, not "CSRF check Failed").
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return _checked(super().authenticate(request, key), self.permission)


def api_auth(*, permission: str | None = None) -> list:
    """Token first (programs), then the session (browsers); optionally a permission on top."""
    return [BearerTokenAuth(permission=permission), SessionUserAuth(permission=permission)]


class ExecuteRateThrottle(BaseThrottle):
    """API_EXECUTE_RATE_LIMIT per user and window, counted in Redis with the admin's "Run now" (rate_limits.py)."""

    scope = EXECUTE_SCOPE

    def allow_request(self, request: HttpRequest) -> bool:
        user = request.auth  # type: ignore[attr-defined]  # ninja's authentication puts the user there
        return execute_rate_take(user_id=user.pk)

    def wait(self) -> float:
        return execute_rate_wait()


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != BEARER or not token.strip():
        return None
    return token.strip()


def bearer_token_refusal(request: HttpRequest) -> str | None:
    """Why the bearer token is refused (TOKEN_EXPIRED or TOKEN_INVALID, English msgids); None if none sent fails."""
    token = _bearer_token(request)
    if token is None:
        return None
    try:
        token_user(token)
    except InvalidToken as exc:
        return TOKEN_EXPIRED if isinstance(exc.__cause__, jwt.ExpiredSignatureError) else TOKEN_INVALID
    return None


def request_user(request: HttpRequest) -> AbstractBaseUser | None:
    """The caller of a plain Django view, by bearer token or session (None when neither)."""
    token = _bearer_token(request)
    if token is not None:
        try:
            return token_user(token)
        except InvalidToken:
            return None
    return request.user if request.user.is_authenticated else None
