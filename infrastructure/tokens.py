"""JWT access tokens for programs (WebSocket `?token=`, HTTP `Authorization: Bearer`).

HS256 with a configurable secret by default, so that another service holding the secret can mint
tokens too. The `sub` claim is the username.
"""

import time

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser


class InvalidToken(Exception):
    """The token is malformed, tampered with, expired, or names no active user."""


def token_mint(*, user: AbstractBaseUser, ttl_seconds: int | None = None) -> str:
    """A signed token for `user`, valid for `ttl_seconds` (JWT_TTL_SECONDS by default)."""
    now = int(time.time())
    ttl = settings.JWT_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    claims = {"sub": user.get_username(), "iat": now, "exp": now + ttl}
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=settings.JWT_ALGORITHM)


def token_user(token: str) -> AbstractBaseUser:
    """The active user a valid token names; raises InvalidToken otherwise."""
    try:
        claims = jwt.decode(
            token, settings.JWT_SECRET, algorithms=[settings.JWT_ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: claims["sub"]}, is_active=True).first()
    if user is None:
        raise InvalidToken("unknown or inactive user")
    return user
