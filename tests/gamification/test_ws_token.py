"""`manage.py ws_token <username> [--ttl]`."""

from io import StringIO

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from gamification.management.commands.ws_token import BAD_TTL, NO_SUCH_USER
from infrastructure.tokens import token_user

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("ws_token", *args, stdout=out)
    return out.getvalue().strip()


def test_prints_a_token_for_the_user_with_the_default_expiry():
    user = User.objects.create_user("ops")
    token = _run("ops")
    assert token_user(token) == user
    claims = jwt.decode(token, settings.JWT_SECRET, algorithms=[settings.JWT_ALGORITHM])
    assert claims["exp"] - claims["iat"] == settings.JWT_TTL_SECONDS


def test_ttl_sets_the_expiry():
    User.objects.create_user("ops")
    claims = jwt.decode(_run("ops", "--ttl", "60"), settings.JWT_SECRET, algorithms=[settings.JWT_ALGORITHM])
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
