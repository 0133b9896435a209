"""JWT tokens: what is minted; forged or over-long tokens refused (the API with 401, the WebSocket with 4401)."""

import base64
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils.crypto import salted_hmac

from conductor.asgi import application
from conductor.settings.guards import DEVELOPMENT_SECRET_KEY
from gamification import protocol
from gamification.access import access_cache
from infrastructure.api_auth import TOKEN_INVALID
from infrastructure.tokens import (
    IAT_LEEWAY_S,
    ISSUED_IN_THE_FUTURE,
    JWT_KEY_SALT,
    LIFETIME_OVER_MAXIMUM,
    TTL_OVER_MAXIMUM,
    InvalidToken,
    signing_key,
    token_generation,
    token_identity,
    token_mint,
    token_user,
)
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db
THIRTY_YEARS_S = 30 * 365 * 86400
TIMEOUT = 5


def claims(username: str, **changes: Any) -> dict[str, Any]:
    """Claims a valid token of this deployment carries for this user (a minute to live), with `changes`
    (None drops a claim)."""
    user = get_user_model().objects.get(username=username)
    now = int(time.time())
    base = {
        "sub": username,
        "uid": user.pk,
        "gen": token_generation(user),
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "iat": now,
        "exp": now + 60,
    }
    merged = {**base, **changes}
    return {name: value for name, value in merged.items() if value is not None}


def forge(username: str, *, key: Any = None, algorithm: str = "HS256", **changes: Any) -> str:
    return jwt.encode(claims(username, **changes), signing_key() if key is None else key, algorithm=algorithm)


def unsigned(username: str) -> str:
    """An `alg: none` token: a header and claims, no signature."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims(username))}."


def rs256(username: str) -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return forge(username, key=pem, algorithm="RS256")


@pytest.fixture
def admin():
    return make_user(username="admin", is_staff=True, is_superuser=True)


# What is minted ----------------------------------------------------------------------------------


def test_a_minted_token_names_the_user_issuer_audience_and_expiry(admin):
    token = token_mint(user=admin, ttl_seconds=120)
    decoded = jwt.decode(token, signing_key(), algorithms=[settings.JWT_ALGORITHM], audience=settings.JWT_AUDIENCE)
    assert (decoded["sub"], decoded["uid"], decoded["gen"]) == ("admin", admin.pk, token_generation(admin))
    assert (decoded["iss"], decoded["aud"]) == ("conductor", "conductor-gateway")
    assert decoded["exp"] - decoded["iat"] == 120
    identity = token_identity(token)
    assert identity.user == admin
    assert identity.expires_at == datetime.fromtimestamp(decoded["exp"], tz=UTC)
    assert token_user(token) == admin


def test_the_key_is_derived_from_the_secret_key_never_the_secret_key_itself():
    derived = salted_hmac(JWT_KEY_SALT, "jwt", secret=settings.SECRET_KEY, algorithm="sha256").hexdigest()
    assert settings.JWT_SECRET == ""
    assert signing_key() == derived != settings.SECRET_KEY


def test_jwt_secret_when_set_is_the_key(admin, settings):
    settings.JWT_SECRET = secrets.token_urlsafe(32)  # shared with another service that mints tokens
    assert signing_key() == settings.JWT_SECRET
    assert token_user(forge("admin", key=settings.JWT_SECRET)) == admin
    derived = salted_hmac(JWT_KEY_SALT, "jwt", secret=settings.SECRET_KEY, algorithm="sha256").hexdigest()
    with pytest.raises(InvalidToken):
        token_user(forge("admin", key=derived))


def test_minting_over_the_maximum_lifetime_is_refused(admin, settings):
    settings.JWT_MAX_TTL_SECONDS = 3600
    with pytest.raises(ValueError) as error:
        token_mint(user=admin, ttl_seconds=3601)
    assert str(error.value) == TTL_OVER_MAXIMUM.format(maximum=3600, ttl=3601)


def test_only_the_configured_algorithm_is_accepted(admin, settings):
    hs256 = token_mint(user=admin)
    settings.JWT_ALGORITHM = "HS512"
    with pytest.raises(InvalidToken):
        token_user(hs256)
    assert token_user(token_mint(user=admin)) == admin


# Forged and over-long tokens ---------------------------------------------------------------------


def test_the_forge_helper_makes_tokens_this_deployment_accepts(admin):
    # So that each refusal below is for the one thing that test changes.
    assert token_user(forge("admin")) == admin


FORGERIES = {
    "signed with the repository's published key": lambda: forge("admin", key=DEVELOPMENT_SECRET_KEY),
    "signed with the key a deployment on the published key derives": lambda: forge(
        "admin", key=salted_hmac(JWT_KEY_SALT, "jwt", secret=DEVELOPMENT_SECRET_KEY, algorithm="sha256").hexdigest()
    ),
    "signed with the raw SECRET_KEY": lambda: forge("admin", key=settings.SECRET_KEY),
    "alg none": lambda: unsigned("admin"),
    "RS256 with the forger's own key": lambda: rs256("admin"),
    "HS256, another audience": lambda: forge("admin", aud="another-service"),
    "HS256, another issuer": lambda: forge("admin", iss="someone-else"),
    "HS256, no audience": lambda: forge("admin", aud=None),
    "HS256, no issuer": lambda: forge("admin", iss=None),
    "HS256, no iat": lambda: forge("admin", iat=None),
    "HS256, no exp": lambda: forge("admin", exp=None),
    "HS256, no uid (a token of before uid and gen)": lambda: forge("admin", uid=None),
    "HS256, no gen": lambda: forge("admin", gen=None),
    "HS256, another user's uid": lambda: forge("admin", uid=make_user().pk),
    "HS256, a guessed gen": lambda: forge("admin", gen="0" * 20),
    "HS256, uid as a boolean": lambda: forge("admin", uid=True),
    "HS256, uid of the wrong type": lambda: forge("admin", uid="not-a-number"),
    "HS256, gen as a number": lambda: forge("admin", gen=7),
    "valid for 30 years": lambda: forge("admin", exp=int(time.time()) + THIRTY_YEARS_S),
    "exp - iat one second over the maximum": lambda: forge(
        "admin", iat=int(time.time()), exp=int(time.time()) + settings.JWT_MAX_TTL_SECONDS + 1
    ),
    "issued an hour in the future": lambda: forge("admin", iat=int(time.time()) + 3600, exp=int(time.time()) + 3660),
    "exp as text": lambda: forge("admin", exp=str(int(time.time()) + 60)),
    "expired": lambda: forge("admin", iat=int(time.time()) - 120, exp=int(time.time()) - 60),
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_or_over_long_token_is_refused(admin, forgery):
    with pytest.raises(InvalidToken):
        token_user(forgery())


def test_refusals_of_lifetime_and_iat_say_why(admin, settings):
    now = int(time.time())
    with pytest.raises(InvalidToken) as error:
        token_user(forge("admin", iat=now, exp=now + THIRTY_YEARS_S))
    assert str(error.value) == LIFETIME_OVER_MAXIMUM.format(
        lifetime=THIRTY_YEARS_S, maximum=settings.JWT_MAX_TTL_SECONDS
    )
    with pytest.raises(InvalidToken) as error:
        token_user(forge("admin", iat=now + 3600, exp=now + 3660))
    assert str(error.value) == ISSUED_IN_THE_FUTURE


def test_the_maximum_lifetime_and_a_little_clock_skew_are_accepted(admin, settings):
    now = int(time.time())
    assert token_user(forge("admin", iat=now, exp=now + settings.JWT_MAX_TTL_SECONDS)) == admin
    skewed = now + IAT_LEEWAY_S // 2  # a minting service whose clock runs a little ahead
    assert token_user(forge("admin", iat=skewed, exp=skewed + 60)) == admin


# The edges refuse them too -----------------------------------------------------------------------

EDGE_FORGERIES = ["signed with the repository's published key", "signed with the raw SECRET_KEY", "valid for 30 years"]


@pytest.mark.parametrize("name", EDGE_FORGERIES)
def test_the_api_answers_401_to_a_forged_token(client, admin, name):
    ok = client.get("/api/councilors", HTTP_AUTHORIZATION=f"Bearer {token_mint(user=admin)}")
    forged = client.get("/api/councilors", HTTP_AUTHORIZATION=f"Bearer {FORGERIES[name]()}")
    assert ok.status_code == 200
    assert forged.status_code == 401
    assert forged.json()["code"] == "unauthorized"


@pytest.fixture
async def close_thread_connections():
    """Close the connections sync_to_async threads opened, or PostgreSQL cannot drop the test database."""
    yield
    await sync_to_async(connections.close_all)()


async def _close_code(token: str) -> int | None:
    """How the gateway answers a program (no Origin) that brings `token`: the close code, None if it stays open."""
    communicator = WebsocketCommunicator(application, f"/ws/gamification?token={token}")
    try:
        accepted, _ = await communicator.connect(timeout=TIMEOUT)
        assert accepted
        first = await communicator.receive_output(timeout=TIMEOUT)
        return first["code"] if first["type"] == "websocket.close" else None
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("name", EDGE_FORGERIES)
async def test_the_websocket_closes_4401_on_a_forged_token(name):
    admin = await sync_to_async(make_user)(username="admin", is_staff=True, is_superuser=True)
    assert await _close_code(token_mint(user=admin)) is None
    assert await _close_code(await sync_to_async(FORGERIES[name])()) == protocol.CloseCode.UNAUTHORIZED


# A token names one account: a password change, a deactivation or a re-created user refuses it --


def change_password(user) -> None:
    user.set_password("a-new-password-for-alice")
    user.save()


def deactivate(user) -> None:
    user.is_active = False
    user.save()


def recreate(user) -> None:
    """Deleted, and another user created under the same name (a new primary key)."""
    user.delete()
    make_user(username=user.username)


def recreate_with_the_same_pk(user) -> None:
    """Deleted, and another created with the same name *and* primary key (SQLite may reuse the largest id)."""
    pk = user.pk
    user.delete()
    get_user_model().objects.create_user(pk=pk, username=user.username, password=PASSWORD)


INVALIDATIONS = {
    "password change": change_password,
    "deactivation": deactivate,
    "deleted and re-created with the same name": recreate,
    "deleted and re-created with the same name and primary key": recreate_with_the_same_pk,
}


def test_the_generation_is_stable_until_the_account_changes():
    user = make_user(username="alice")
    before = token_generation(user)
    user.first_name, user.last_login = "Alice", datetime.now(tz=UTC)
    user.save()
    assert token_generation(get_user_model().objects.get(pk=user.pk)) == before
    change_password(user)
    assert token_generation(user) != before


@pytest.mark.parametrize("invalidate", INVALIDATIONS.values(), ids=INVALIDATIONS.keys())
def test_the_api_answers_401_invalid_token_to_a_token_of_before(client, invalidate):
    user = make_user(username="alice")
    token = token_mint(user=user)
    assert client.get("/api/councilors", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200

    invalidate(user)

    response = client.get("/api/councilors", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json() == {"detail": TOKEN_INVALID, "code": "unauthorized"}
    with pytest.raises(InvalidToken):
        token_user(token)
    # A token minted now, for whoever holds the name now, works (except for the deactivated user).
    current = get_user_model().objects.get(username="alice")
    if current.is_active:
        assert token_user(token_mint(user=current)) == current


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.parametrize("invalidate", INVALIDATIONS.values(), ids=INVALIDATIONS.keys())
async def test_the_websocket_closes_4401_at_the_handshake_with_a_token_of_before(settings, invalidate):
    user = await sync_to_async(make_user)(username="alice")
    token = token_mint(user=user)
    assert await _close_code(token) is None  # accepted (and the user now in this gateway's access cache)

    await sync_to_async(invalidate)(user)
    # A gateway sees the change once its view of the user is reloaded, at most GAMIFICATION_ACCESS_TTL_S
    # later (docs/protocol.md); the sweep's reload is what that TTL bounds.
    await access_cache().refresh([])

    assert await _close_code(token) == protocol.CloseCode.UNAUTHORIZED
