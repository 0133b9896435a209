"""Who may call the HTTP API (SPEC §4, §6): `Authorization: Bearer <jwt>` or the Django session.

A stop-gap with the same module, names and behaviour as the fuller version on the HTTP API branch
(issue 5), which supersedes it when merged (that one adds permissions and rate limits).
"""

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from conductor.tokens import InvalidToken, token_user


class BearerTokenAuth(HttpBearer):
    """`Authorization: Bearer <token>` as minted by `manage.py ws_token` (conductor.tokens)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        try:
            return token_user(token)
        except InvalidToken:
            return None


def api_auth() -> list:
    """Token first (programs), then the session (browsers; unsafe methods also need the CSRF token)."""
    return [BearerTokenAuth(), SessionAuth()]
