"""`manage.py ws_token <username> [--ttl]`."""

from io import StringIO

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from gamification.management.commands.ws_token import BAD_TTL, NO_SUCH_USER, TTL_OVER_MAXIMUM
from infrastructure.tokens import signing_key, token_user

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("ws_token", *args, stdout=out)
    return out.getvalue().strip()


def _claims(token: str) -> dict:
    return jwt.decode(token, signing_key(), algorithms=[settings.JWT_ALGORITHM], audience=settings.JWT_AUDIENCE)


def test_prints_a_token_for_the_user_with_the_default_expiry():
    user = User.objects.create_user("ops")
    token = _run("ops")
    assert token_user(token) == user
    claims = _claims(token)
    assert claims["exp"] - claims["iat"] == settings.JWT_TTL_SECONDS
    assert (claims["iss"], claims["aud"]) == (settings.JWT_ISSUER, settings.JWT_AUDIENCE)


def test_ttl_sets_the_expiry():
    User.objects.create_user("ops")
    claims = _claims(_run("ops", "--ttl", "60"))
    assert claims["exp"] - claims["iat"] == 60


def test_unknown_or_inactive_user_is_a_clear_error():
    User.objects.create_user("gone", is_active=False)
    for name in ("nobody", "gone"):
        with pytest.raises(CommandError, match=NO_SUCH_USER.format(username=name).replace(".", r"\.")):
            _run(name)


def test_a_non_positive_ttl_is_refused():
    User.objects.create_user("ops")
    with pytest.raises(CommandError) as error:
        _run("ops", "--ttl", "0")
    assert str(error.value) == BAD_TTL.format(ttl=0)


def test_a_ttl_over_the_maximum_is_refused_naming_the_maximum(settings):
    settings.JWT_MAX_TTL_SECONDS = 86400
    User.objects.create_user("ops")
    longest = _claims(_run("ops", "--ttl", "86400"))
    assert longest["exp"] - longest["iat"] == 86400
    with pytest.raises(CommandError) as error:
        _run("ops", "--ttl", str(30 * 365 * 86400))
    assert str(error.value) == TTL_OVER_MAXIMUM.format(maximum=86400, ttl=30 * 365 * 86400)
    assert "86400" in str(error.value) and "JWT_MAX_TTL_SECONDS" in str(error.value)
