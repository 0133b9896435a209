"""JWT access tokens for programs (WebSocket `?token=`, HTTP `Authorization: Bearer`).

HMAC (HS256 by default; JWT_ALGORITHM, checked at start-up) with a shared key, so that another
service holding JWT_SECRET can mint tokens too. Without JWT_SECRET the key is derived from
SECRET_KEY, never SECRET_KEY itself: a token key that leaks gives no power over sessions. Every
token carries `sub` (the username, for people reading it), `uid` (the user's primary key), `gen`
(the user's token generation), `iss`, `aud`, `iat` and `exp`; decoding requires all of them and
refuses a lifetime over JWT_MAX_TTL_SECONDS whoever minted it (docs/security.md, "Tokens").

A token names the user by `uid`, not by name, and holds only while its `gen` is the user's
`token_generation`: an HMAC, like Django's password-reset tokens, of what identifies this account
and its credentials (primary key, password hash, active flag, when it joined). Changing the
password, deactivating the user, or deleting it and creating another of the same name (another
primary key, or the same one reused with another password hash and join date) changes it, so every
earlier token stops working. Nothing is stored and nothing is queried beyond the user row the
callers load anyway.
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
from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare, salted_hmac

# Fixed: changing it invalidates every derived-key token in circulation.
JWT_KEY_SALT = "infrastructure.tokens.jwt-signing-key"
# Fixed: changing it invalidates every token in circulation.
GENERATION_SALT = "infrastructure.tokens.generation"
# 20 hex digits (80 bits) of the HMAC: enough that no one guesses another account's, short in a URL.
GENERATION_LENGTH = 20
REQUIRED_CLAIMS = ["sub", "uid", "gen", "iss", "aud", "iat", "exp"]
# Clocks of the services that mint tokens may run a little ahead of ours.
IAT_LEEWAY_S = 30

TTL_OVER_MAXIMUM = "A token may live at most {maximum} seconds (JWT_MAX_TTL_SECONDS); asked for {ttl}."
LIFETIME_OVER_MAXIMUM = "token lifetime {lifetime}s is over JWT_MAX_TTL_SECONDS ({maximum}s)"
ISSUED_IN_THE_FUTURE = "token issued in the future (iat)"
NOT_A_TIME = "{claim} must be a number of seconds"
NO_SUCH_USER = "unknown or inactive user"
STALE_GENERATION = "token generation is stale (the password changed, or the user was deactivated or re-created)"
NOT_A_USERNAME = "sub must be a username"
NOT_A_USER_ID = "uid must be a user's primary key"
NOT_A_GENERATION = "gen must be a token generation string"


class InvalidToken(Exception):
    """The token is malformed, tampered with, expired, too long-lived, or names no active user."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says, checked without the database: whose it is, which generation, and until when."""

    username: str
    user_id: int | str
    generation: str
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


def token_generation(user: AbstractBaseUser) -> str:
    """The user's current token generation: tokens whose `gen` differs are refused.

    Derived from the user row alone (no query): the primary key, the password hash, the active
    flag and the join date, HMAC'd with SECRET_KEY. The gateway calls it to close an open socket
    whose token went stale.
    """
    joined = getattr(user, "date_joined", None)
    material = f"{user.pk}|{user.password}|{bool(user.is_active)}|{joined.timestamp() if joined else ''}"
    digest = salted_hmac(GENERATION_SALT, material, algorithm="sha256").hexdigest()
    return digest[:GENERATION_LENGTH]


def generation_matches(user: AbstractBaseUser, generation: str) -> bool:
    """Whether a token's `gen` is the user's current generation (a constant-time comparison)."""
    return constant_time_compare(token_generation(user), generation)


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
        "uid": user.pk,
        "gen": token_generation(user),
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
    """Whose a valid token is, its generation and expiry (signature, claims, lifetime); raises InvalidToken.

    CPU only (an HMAC): the gateway checks tokens on its event loop and finds the user in its
    per-process cache, so a connection costs no thread hop and no database connection. The
    caller compares the generation with the user it finds (`generation_matches`).
    """
    return _typed(_claims(token))


def _typed(claims: dict[str, Any]) -> TokenClaims:
    if not isinstance(claims["sub"], str):
        raise InvalidToken(NOT_A_USERNAME)
    user_id = claims["uid"]
    if isinstance(user_id, bool) or not isinstance(user_id, int | str):
        raise InvalidToken(NOT_A_USER_ID)
    if not isinstance(claims["gen"], str):
        raise InvalidToken(NOT_A_GENERATION)
    expires_at = datetime.fromtimestamp(claims["exp"], tz=UTC)
    return TokenClaims(username=claims["sub"], user_id=user_id, generation=claims["gen"], expires_at=expires_at)


def token_identity(token: str) -> TokenIdentity:
    """The active user a valid token names, at the token's generation, with its expiry; else InvalidToken."""
    claims = _claims(token)
    checked = _typed(claims)
    try:
        user = get_user_model().objects.filter(pk=checked.user_id, is_active=True).first()
    except (ValueError, TypeError, ValidationError):  # a uid of the wrong type for this user model's key
        raise InvalidToken(NO_SUCH_USER) from None
    if user is None:
        raise InvalidToken(NO_SUCH_USER)
    if not generation_matches(user, checked.generation):
        raise InvalidToken(STALE_GENERATION)
    return TokenIdentity(user=user, expires_at=checked.expires_at, claims=claims)


def token_user(token: str) -> AbstractBaseUser:
    """The active user a valid token names; raises InvalidToken otherwise."""
    return token_identity(token).user
