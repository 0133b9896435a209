"""JWT access tokens for programs (WebSocket `?token=`, HTTP `Authorization: Bearer`).

HMAC (HS256 by default; JWT_ALGORITHM, checked at start-up) with a shared key, so that another
service holding JWT_SECRET can mint tokens too. Without JWT_SECRET the key is derived from
SECRET_KEY, never SECRET_KEY itself: a token key that leaks gives no power over sessions. Every
token carries `sub` (the username), `iss`, `aud`, `iat` and `exp`; decoding requires all of them and
refuses a lifetime over JWT_MAX_TTL_SECONDS whoever minted it.
"""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils.crypto import salted_hmac

# Fixed: changing it invalidates every derived-key token in circulation.
JWT_KEY_SALT = "infrastructure.tokens.jwt-signing-key"
REQUIRED_CLAIMS = ["sub", "iss", "aud", "iat", "exp"]
# Clocks of the services that mint tokens may run a little ahead of ours.
IAT_LEEWAY_S = 30

TTL_OVER_MAXIMUM = "A token may live at most {maximum} seconds (JWT_MAX_TTL_SECONDS); asked for {ttl}."
LIFETIME_OVER_MAXIMUM = "token lifetime {lifetime}s is over JWT_MAX_TTL_SECONDS ({maximum}s)"
ISSUED_IN_THE_FUTURE = "token issued in the future (iat)"
NOT_A_TIME = "{claim} must be a number of seconds"
NO_SUCH_USER = "unknown or inactive user"
NOT_A_USERNAME = "sub must be a username"


class InvalidToken(Exception):
    """The token is malformed, tampered with, expired, too long-lived, or names no active user."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says, checked without the database: whose it is and until when."""

    username: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenIdentity:
    """Who a valid token speaks for, and until when."""

    user: AbstractBaseUser
    expires_at: datetime
    claims: dict[str, Any] = field(repr=False)


def signing_key() -> str:
    """JWT_SECRET when set, otherwise a key derived from SECRET_KEY (HMAC with a fixed salt)."""
    return _signing_key(settings.JWT_SECRET, settings.SECRET_KEY)


@lru_cache(maxsize=4)
def _signing_key(jwt_secret: str, secret_key: str) -> str:
    # Derived once per pair of settings, not for every token checked (tests change the settings).
    if jwt_secret:
        return jwt_secret
    return salted_hmac(JWT_KEY_SALT, "jwt", secret=secret_key, algorithm="sha256").hexdigest()


# Fixed: changing it makes every open token socket look stale at once.
GENERATION_SALT = "infrastructure.tokens.user-generation"


def token_generation(user: AbstractBaseUser) -> str:
    """What a user's tokens are tied to: changes when the user's password, active flag or identity changes.

    Derived (an HMAC of the pk, the password hash and `is_active`), so it costs no column: a socket
    opened with a token notes it, and the gateway closes the socket once it differs
    (gamification/access.py). A password change, a deactivation, or a user deleted and created
    again under the same name all give another value.
    """
    state = f"{user.pk}:{user.password}:{int(bool(getattr(user, 'is_active', True)))}"
    return salted_hmac(GENERATION_SALT, state, secret=signing_key(), algorithm="sha256").hexdigest()[:32]


def token_mint(*, user: AbstractBaseUser, ttl_seconds: int | None = None) -> str:
    """A signed token for `user`, valid `ttl_seconds` (JWT_TTL_SECONDS by default; at most JWT_MAX_TTL_SECONDS).

    A ttl of 0 or less gives a token that has already expired (tests of refusal use it).
    """
    ttl = settings.JWT_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    if ttl > settings.JWT_MAX_TTL_SECONDS:
        raise ValueError(TTL_OVER_MAXIMUM.format(maximum=settings.JWT_MAX_TTL_SECONDS, ttl=ttl))
    now = int(time.time())
    claims = {
        "sub": user.get_username(),
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, signing_key(), algorithm=settings.JWT_ALGORITHM)


def _time_claim(claims: dict[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(NOT_A_TIME.format(claim=name))
    return value


def _claims(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            signing_key(),
            algorithms=[settings.JWT_ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            # iat is checked below, with its own leeway; exp keeps none.
            options={"require": REQUIRED_CLAIMS, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    issued, expires = _time_claim(claims, "iat"), _time_claim(claims, "exp")
    if issued > time.time() + IAT_LEEWAY_S:
        raise InvalidToken(ISSUED_IN_THE_FUTURE)
    if expires - issued > settings.JWT_MAX_TTL_SECONDS:
        raise InvalidToken(
            LIFETIME_OVER_MAXIMUM.format(lifetime=expires - issued, maximum=settings.JWT_MAX_TTL_SECONDS)
        )
    return claims


def token_claims(token: str) -> TokenClaims:
    """The username and expiry of a valid token (signature, claims, lifetime); raises InvalidToken.

    CPU only (an HMAC): the gateway checks tokens on its event loop and finds the user in its
    per-process cache, so a connection costs no thread hop and no database connection.
    """
    claims = _claims(token)
    if not isinstance(claims["sub"], str):
        raise InvalidToken(NOT_A_USERNAME)
    return TokenClaims(username=claims["sub"], expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC))


def token_identity(token: str) -> TokenIdentity:
    """The active user a valid token names, with its expiry; raises InvalidToken otherwise."""
    claims = _claims(token)
    model = get_user_model()
    user = model.objects.filter(**{model.USERNAME_FIELD: claims["sub"]}, is_active=True).first()
    if user is None:
        raise InvalidToken(NO_SUCH_USER)
    return TokenIdentity(user=user, expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC), claims=claims)


def token_user(token: str) -> AbstractBaseUser:
    """The active user a valid token names; raises InvalidToken otherwise."""
    return token_identity(token).user
