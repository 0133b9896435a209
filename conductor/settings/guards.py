"""What the settings refuse at start-up: a production process stops before it serves anything.

Every process (daphne, uvicorn, run_cluster, any manage.py command) imports the settings first, so an
ImproperlyConfigured raised here stops each of them with a message that names the variable.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# With DEBUG on and no key set, development signs with this one. It is written in the repository,
# so with DEBUG off it is refused like every published key.
DEVELOPMENT_SECRET_KEY = "dev-insecure-conductor-key-change-me-in-production-0123456789"
# Every key ever written in this repository (its history included, `git log -p -S SECRET_KEY`): anyone
# who reads it can sign sessions and tokens with them. tests/conductor/test_guards.py fails when a key
# not listed here is written anywhere in the tree.
PUBLISHED_SECRET_KEYS = frozenset({DEVELOPMENT_SECRET_KEY})

HOW_TO_SET_A_KEY = (
    "set SECRET_KEY (or SECRET_KEY_FILE, the path of a file holding it) to a new random value, e.g. "
    "the output of: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
)
SECRET_KEY_MISSING = f"SECRET_KEY is not set and DEBUG is off: {HOW_TO_SET_A_KEY}."
SECRET_KEY_PUBLISHED = (
    "SECRET_KEY is a key published in the repository (anyone can sign sessions and tokens with it): "
    f"{HOW_TO_SET_A_KEY}."
)
SECRET_KEY_TWICE = "Both SECRET_KEY and SECRET_KEY_FILE are set: set one of them."
SECRET_KEY_FILE_UNREADABLE = "SECRET_KEY_FILE {path} cannot be read ({error}): it must name a file holding the key."
SECRET_KEY_FILE_EMPTY = "SECRET_KEY_FILE {path} is empty: it must hold the key."

JWT_ALGORITHMS = ("HS256", "HS384", "HS512")
JWT_SECRET_MIN_BYTES = 32
JWT_ALGORITHM_REFUSED = "JWT_ALGORITHM must be one of {allowed}; got {value!r}."
JWT_SECRET_TOO_SHORT = "JWT_SECRET must be at least {minimum} bytes long (a random value); got {length}."
JWT_SECRET_PUBLISHED = "JWT_SECRET is a key published in the repository: set a new random value."
JWT_SECRET_IS_SECRET_KEY = (
    "JWT_SECRET must not be the SECRET_KEY (a service that mints tokens would hold the key of every session): "
    "set a different random value, or leave JWT_SECRET unset to derive the token key from SECRET_KEY."
)
JWT_TTL_OUT_OF_RANGE = "JWT_TTL_SECONDS ({ttl}) must be between 1 and JWT_MAX_TTL_SECONDS ({maximum})."
PROXY_SSL_HEADER_SHAPE = (
    "SECURE_PROXY_SSL_HEADER must be a header and its value, e.g. HTTP_X_FORWARDED_PROTO,https; got {value!r}."
)


def _key_from_file(path: str) -> str:
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ImproperlyConfigured(SECRET_KEY_FILE_UNREADABLE.format(path=path, error=exc.strerror)) from exc
    if not key:
        raise ImproperlyConfigured(SECRET_KEY_FILE_EMPTY.format(path=path))
    return key


def secret_key(*, debug: bool) -> str:
    """SECRET_KEY, or the content of SECRET_KEY_FILE; with DEBUG off, an unset or published key is refused."""
    value, path = os.environ.get("SECRET_KEY", ""), os.environ.get("SECRET_KEY_FILE", "")
    if value and path:
        raise ImproperlyConfigured(SECRET_KEY_TWICE)
    key = _key_from_file(path) if path else value
    if debug:
        # Development only: DEBUG on may run on the repository's key (never exposed, by definition).
        return key or DEVELOPMENT_SECRET_KEY
    if not key:
        raise ImproperlyConfigured(SECRET_KEY_MISSING)
    if key in PUBLISHED_SECRET_KEYS:
        raise ImproperlyConfigured(SECRET_KEY_PUBLISHED)
    return key


def jwt_algorithm(value: str) -> str:
    """Only the HMAC algorithms: the token key is a shared secret, never a public key an attacker could present."""
    if value not in JWT_ALGORITHMS:
        raise ImproperlyConfigured(JWT_ALGORITHM_REFUSED.format(allowed=", ".join(JWT_ALGORITHMS), value=value))
    return value


def jwt_secret(value: str, *, secret_key: str) -> str:
    """An explicit JWT_SECRET (long, unpublished, not the SECRET_KEY); empty means "derive it from SECRET_KEY"."""
    if not value:
        return ""
    if value in PUBLISHED_SECRET_KEYS:
        raise ImproperlyConfigured(JWT_SECRET_PUBLISHED)
    if value == secret_key:
        raise ImproperlyConfigured(JWT_SECRET_IS_SECRET_KEY)
    length = len(value.encode())
    if length < JWT_SECRET_MIN_BYTES:
        raise ImproperlyConfigured(JWT_SECRET_TOO_SHORT.format(minimum=JWT_SECRET_MIN_BYTES, length=length))
    return value


def jwt_ttl(ttl: int, *, maximum: int) -> int:
    """The default token lifetime, which must fit under the maximum every token is held to."""
    if not 0 < ttl <= maximum:
        raise ImproperlyConfigured(JWT_TTL_OUT_OF_RANGE.format(ttl=ttl, maximum=maximum))
    return ttl


def proxy_ssl_header(value: list[str]) -> tuple[str, str] | None:
    """`HTTP_X_FORWARDED_PROTO,https` as the (header, value) pair Django expects; None when unset."""
    if not value:
        return None
    if len(value) != 2 or not all(value):
        raise ImproperlyConfigured(PROXY_SSL_HEADER_SHAPE.format(value=",".join(value)))
    return value[0], value[1]
