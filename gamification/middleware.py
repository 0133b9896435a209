"""ASGI middleware in front of the consumer: same-origin check, the connection's user, daphne's protocol.

Order (conductor/asgi.py): OriginMiddleware → ConnectionUserMiddleware (token or session) →
URLRouter. A browser always sends `Origin`, and a page of another site (or another port of this
host) must not ride on the user's session cookie, so a browser's `Origin` must be the gateway's own
origin — scheme, host and port of the handshake request, as Django sees an HTTP request — or an
entry of WS_ALLOWED_ORIGINS. Channels' `AllowedHostsOriginValidator` compares host names only and
refuses every connection without an `Origin`, which would lock out programs (websocat, other
services); a missing Origin is let through here, and the user middleware makes sure such a
connection can only be authenticated by a token, never by a session cookie alone
(docs/protocol.md, "Connecting and access").
"""

import time
from collections.abc import Awaitable
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import DisallowedHost, ImproperlyConfigured, ValidationError
from django.http import HttpRequest, parse_cookie
from django.utils.crypto import constant_time_compare

from gamification.access import Access, access_cache, user_id_of
from gamification.fastpath import daphne
from gamification.session_users import session_users
from infrastructure.tokens import InvalidToken, TokenClaims, token_claims

# Scope keys this module adds (ASGI allows extension keys; namespaced to avoid clashes).
SCOPE_HAS_ORIGIN = "gamification.has_origin"
SCOPE_AUTH = "gamification.auth"  # "session", "token" or None
SCOPE_TOKEN_EXPIRES_AT = "gamification.token_expires_at"  # Unix seconds, for a connection authenticated by token
SCOPE_SESSION_KEY = "gamification.session_key"  # the session a connection authenticated by session was opened with
SCOPE_DAPHNE_PROTOCOL = "gamification.daphne_protocol"
SCOPE_SERVER_SEND = "gamification.server_send"  # the server's own `send`, under the session wrapper

DEFAULT_PORTS = {"http": 80, "https": 443}
MSG_BAD_ALLOWED_ORIGIN = (
    "WS_ALLOWED_ORIGINS: {entry!r} is not an origin; write scheme://host[:port] with http or https, "
    "no path (e.g. https://app.example.com)."
)

Origin = tuple[str, str, int]  # scheme, host name (lower case), port


def parse_origin(text: str) -> Origin | None:
    """`scheme://host[:port]` as (scheme, host, port), default ports filled in; None if it is not one."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:  # a port out of range, a malformed IPv6 host
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme]


def allowed_origins() -> frozenset[Origin]:
    """WS_ALLOWED_ORIGINS, parsed; ImproperlyConfigured for an entry that is not an origin."""
    parsed = set()
    for entry in settings.WS_ALLOWED_ORIGINS:
        origin = parse_origin(entry)
        if origin is None:
            raise ImproperlyConfigured(MSG_BAD_ALLOWED_ORIGIN.format(entry=entry))
        parsed.add(origin)
    return frozenset(parsed)


class HandshakeRequest(HttpRequest):
    """The WebSocket handshake as a Django request, so that its origin follows Django's own rules.

    `get_host()` honours X-Forwarded-Host only with USE_X_FORWARDED_HOST (X-Forwarded-Port only
    with USE_X_FORWARDED_PORT) and checks ALLOWED_HOSTS; `origin_scheme()` honours the header named
    by SECURE_PROXY_SSL_HEADER only when that is set, as Django's `HttpRequest.scheme` does, and is
    otherwise the socket's own (ws → http, wss → https). Only Django's public API is used.
    """

    def __init__(self, scope: dict[str, Any]) -> None:
        super().__init__()
        self._socket_scheme = "https" if scope.get("scheme") == "wss" else "http"
        server = scope.get("server") or ("", None)
        meta = {"SERVER_NAME": server[0] or "", "SERVER_PORT": str(server[1] or DEFAULT_PORTS[self._socket_scheme])}
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin1")
            if "_" in name:  # X_Forwarded_Host would pass for X-Forwarded-Host below (WSGI servers drop these)
                continue
            key = "HTTP_" + name.upper().replace("-", "_")
            value = raw_value.decode("latin1")
            meta[key] = f"{meta[key]},{value}" if key in meta else value
        self.META = meta

    def origin_scheme(self) -> str:
        """Django's rule for `HttpRequest.scheme`, with the socket's scheme where a WSGI server's would be."""
        if settings.SECURE_PROXY_SSL_HEADER:
            header, secure_value = settings.SECURE_PROXY_SSL_HEADER
            value = self.META.get(header)
            if value is not None:
                return "https" if value.split(",", 1)[0].strip() == secure_value else "http"
        return self._socket_scheme

    def own_origin(self) -> Origin | None:
        """This request's origin; None when its host is not in ALLOWED_HOSTS."""
        try:
            return parse_origin(f"{self.origin_scheme()}://{self.get_host()}")
        except DisallowedHost:
            return None


def origin_allowed(scope: dict[str, Any], origins: list[str]) -> bool:
    """True when the one `Origin` a browser sent is the request's own origin or an allowed one."""
    if len(origins) != 1:
        return False
    origin = parse_origin(origins[0])
    if origin is None:  # "null" (a sandboxed page, a file), or garbage
        return False
    return origin == HandshakeRequest(scope).own_origin() or origin in allowed_origins()


class OriginMiddleware:
    """Refuses (403 before accept) an `Origin` neither the gateway's own nor allowed; lets a missing one through.

    Its check waits for nothing, so `__call__` is a plain function that returns the next
    application's coroutine: no frame of its own (and no copy of the scope) stays suspended for
    each open connection.
    """

    _asgi_single_callable = True  # asgiref's hint: an ASGI 3 application, though `__call__` is no coroutine

    def __init__(self, application: Any) -> None:
        self.application = application
        allowed_origins()  # a bad WS_ALLOWED_ORIGINS stops the process at start-up, not at the first browser

    def __call__(self, scope: dict, receive: Any, send: Any) -> Awaitable[Any]:
        origins = [value.decode("latin1") for name, value in scope.get("headers", []) if name == b"origin"]
        if origins and not origin_allowed(scope, origins):
            return WebsocketDenier()(scope, receive, send)
        scope = {**scope, SCOPE_HAS_ORIGIN: bool(origins), SCOPE_SERVER_SEND: send}
        # Under daphne, its protocol lets the consumer write frames itself and send a close reason.
        protocol = daphne.protocol_from_send(send)
        if protocol is not None:
            scope[SCOPE_DAPHNE_PROTOCOL] = protocol
            daphne.configure_protocol(protocol)
        return self.application(scope, receive, send)


# Tokens whose signature and claims were checked: a client that reconnects (a gateway restart, a
# dropped network) presents the same token again. Only the expiry can change for the same string.
VERIFIED_TOKENS_KEPT = 4096


@lru_cache(maxsize=VERIFIED_TOKENS_KEPT)
def _verified_claims(token: str) -> TokenClaims:
    return token_claims(token)  # an invalid token raises, and exceptions are not cached


async def _token_user(token: str) -> tuple[Access, float] | None:
    """The active user a valid token names, at the token's generation, and when it expires (Unix seconds).

    None otherwise. The signature is checked here, on the event loop (an HMAC); the user comes from
    the access cache by primary key, and the token's generation must be the user's own
    (infrastructure/tokens.py): a password change, a deactivation or a user deleted and created
    again under the same name refuses the token (4401) once the cache has reloaded the user.
    """
    try:
        claims = _verified_claims(token)
    except InvalidToken:
        return None
    if claims.expires_at.timestamp() <= time.time():
        return None
    try:
        user_id = user_id_of(claims.user_id)
        access = await access_cache().get(user_id)
    except (ValueError, TypeError, ValidationError):  # a uid of the wrong type for this user model's key
        return None
    # The generation the cache derived when it loaded this very user row (no HMAC per connection).
    if access is None or not access.active or not constant_time_compare(access.token_generation, claims.generation):
        return None
    return access, claims.expires_at.timestamp()


def _session_key(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            key = parse_cookie(value.decode("latin1")).get(settings.SESSION_COOKIE_NAME)
            if key:
                return key
    return None


class ConnectionUserMiddleware:
    """Puts the connection's user in scope["user"]: a valid `?token=`'s, else, for a browser, its session's.

    Both come from per-process caches (access.py, session_users.py): no thread hop and no
    database connection per socket once a user is known. A session cookie counts only with an
    `Origin` (a cookie without one is not a browser on this site); a token replaces the session,
    and a bad token leaves the connection anonymous whatever cookie came with it.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        # This frame lives as long as the connection: it keeps only the scope it passes on (the
        # token's text, the caller's scope and the lookups' results go with `_with_user`'s frame).
        scope = await _with_user(scope)
        return await self.application(scope, receive, send)


async def _with_user(scope: dict) -> dict:
    """A copy of the scope with the connection's user and how it authenticated (see ConnectionUserMiddleware)."""
    tokens = parse_qs(scope.get("query_string", b"").decode("latin1")).get("token")
    user: Any = AnonymousUser()
    auth, expires_at, session = None, None, None
    if tokens:
        found = await _token_user(tokens[0])
        if found is not None:
            user, auth, expires_at = found[0].user, "token", found[1]
    elif scope.get(SCOPE_HAS_ORIGIN, True) and (session_key := _session_key(scope)):
        access = await session_users().access(session_key)
        if access is not None:
            user, auth, session = access.user, "session", session_key
    return {
        **scope,
        "user": user,
        SCOPE_AUTH: auth,
        SCOPE_TOKEN_EXPIRES_AT: expires_at,
        SCOPE_SESSION_KEY: session,
    }
