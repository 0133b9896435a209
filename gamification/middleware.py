"""ASGI middleware in front of the consumer: origin check, JWT `?token=`, and daphne's protocol.

Order (conductor/asgi.py): OriginMiddleware → AuthMiddlewareStack (session) → TokenAuthMiddleware
→ URLRouter. Channels' `AllowedHostsOriginValidator` refuses every connection without an `Origin`
header, which would lock out programs (websocat, other services); browsers always send one, so a
missing Origin is let through here and the token middleware makes sure such a connection can only
be authenticated by a token, never by a session cookie alone (docs/protocol.md, "Connecting and access").
"""

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from gamification.fastpath import daphne
from infrastructure.tokens import InvalidToken, token_user

# Scope keys this module adds (ASGI allows extension keys; namespaced to avoid clashes).
SCOPE_HAS_ORIGIN = "gamification.has_origin"
SCOPE_AUTH = "gamification.auth"  # "session", "token" or None
SCOPE_DAPHNE_PROTOCOL = "gamification.daphne_protocol"
SCOPE_SERVER_SEND = "gamification.server_send"  # the server's own `send`, under the session wrapper


def _allowed_origins() -> list[str]:
    # As channels' AllowedHostsOriginValidator: DEBUG with no ALLOWED_HOSTS means local development.
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = ["localhost", "127.0.0.1", "[::1]"]
    return allowed


class OriginMiddleware(OriginValidator):
    """Refuses (403 before accept) an `Origin` outside ALLOWED_HOSTS; lets a missing one through."""

    def __init__(self, application: Any) -> None:
        super().__init__(application, _allowed_origins())

    def valid_origin(self, parsed_origin: Any) -> bool:
        return parsed_origin is None or self.validate_origin(parsed_origin)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        has_origin = any(name == b"origin" for name, _ in scope.get("headers", []))
        scope = {**scope, SCOPE_HAS_ORIGIN: has_origin, SCOPE_SERVER_SEND: send}
        # Under daphne, its protocol lets the consumer write frames itself and send a close reason.
        protocol = daphne.protocol_from_send(send)
        if protocol is not None:
            scope[SCOPE_DAPHNE_PROTOCOL] = protocol
            daphne.configure_protocol(protocol)
        return await super().__call__(scope, receive, send)


@database_sync_to_async
def _token_user(token: str) -> Any:
    try:
        return token_user(token)
    except InvalidToken:
        return None


class TokenAuthMiddleware:
    """Puts the user of a valid `?token=` in scope["user"]; drops a session user when there is no Origin."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        tokens = parse_qs(scope.get("query_string", b"").decode("latin1")).get("token")
        user = scope.get("user") or AnonymousUser()
        auth = "session" if user.is_authenticated else None
        if tokens:
            token_owner = await _token_user(tokens[0])
            user, auth = (token_owner, "token") if token_owner else (AnonymousUser(), None)
        elif not scope.get(SCOPE_HAS_ORIGIN, True):
            user, auth = AnonymousUser(), None  # a cookie without Origin is not a browser on our site
        return await self.application({**scope, "user": user, SCOPE_AUTH: auth}, receive, send)
