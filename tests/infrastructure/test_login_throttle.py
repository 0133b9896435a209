"""Login throttling (django-axes) on the real admin login form, and Django's password validators.

docs/security.md, "Logins are throttled": AXES_FAILURE_LIMIT failures for one username, or from
one address, lock that username or address out for AXES_COOLOFF_MINUTES, with a page in the
site's language; nginx slows the login down before that (tests/deploy/test_nginx.py).
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from devserver.run import ADMIN_USERNAME, new_admin_password
from tests.dashboard.browser import PASSWORD as BROWSER_PASSWORD
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
ADDRESS = "203.0.113.7"


def log_in(username: str, password: str, *, address: str = ADDRESS, language: str = "en"):
    client = Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE=language)
    response = client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})
    return response, client


def fail(username: str, times: int, *, address: str = ADDRESS) -> list[int]:
    return [log_in(username, "not-the-password", address=address)[0].status_code for _ in range(times)]


def logged_in(response) -> bool:
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def test_a_username_is_locked_out_after_the_failure_limit_even_with_the_right_password():
    make_user(username="alice", is_staff=True)
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5  # the documented default
    # Each failure before the limit gets the login form again; the limit-th gets the lock-out page.
    assert fail("alice", limit) == [200] * (limit - 1) + [429]

    response, _ = log_in("alice", PASSWORD)
    assert response.status_code == 429
    assert not logged_in(response)
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert "failed 5 times in a row" in page and "locked for 15 minutes" in page

    # From another address too: the username itself is locked.
    assert log_in("alice", PASSWORD, address="198.51.100.1")[0].status_code == 429


def test_an_address_is_locked_out_after_failures_over_several_usernames():
    make_user(username="bob", is_staff=True)
    for number in range(settings.AXES_FAILURE_LIMIT):
        fail(f"guess-{number}", 1)
    assert log_in("bob", PASSWORD)[0].status_code == 429  # bob never failed: the address did
    assert logged_in(log_in("bob", PASSWORD, address="198.51.100.2")[0])  # bob elsewhere is fine


def test_fewer_failures_than_the_limit_then_the_right_password_logs_in_and_resets_the_count():
    make_user(username="carol", is_staff=True)
    fail("carol", settings.AXES_FAILURE_LIMIT - 1)
    assert logged_in(log_in("carol", PASSWORD)[0])
    assert fail("carol", settings.AXES_FAILURE_LIMIT - 1) == [200] * (settings.AXES_FAILURE_LIMIT - 1)


def test_the_lock_out_ends_after_the_cool_off():
    make_user(username="dave", is_staff=True)
    fail("dave", settings.AXES_FAILURE_LIMIT)
    # The failures, as kept, are moved back past the cool-off (instead of waiting 15 minutes).
    earlier = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=earlier)
    assert logged_in(log_in("dave", PASSWORD)[0])


def test_the_lock_out_page_is_in_the_site_s_language():
    make_user(username="erin", is_staff=True)
    fail("erin", settings.AXES_FAILURE_LIMIT)
    response, _ = log_in("erin", PASSWORD, language="pt-BR")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Falhas de login demais" in page
    assert "falhou 5 vezes seguidas" in page and "bloqueado por 15 minutos" in page


def test_a_login_without_a_request_is_not_throttled_and_does_not_fail(client):
    # The test client's login(), authenticate() in a shell: no address to count, nothing to lock.
    make_user(username="gina", is_staff=True)
    assert client.login(username="gina", password=PASSWORD)
    assert not client.login(username="gina", password="wrong")
    assert not AccessAttempt.objects.exists()


# Password validators ------------------------------------------------------------------------------


def test_django_s_standard_password_validators_are_on():
    names = [validator["NAME"].rsplit(".", 1)[1] for validator in settings.AUTH_PASSWORD_VALIDATORS]
    assert names == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    for weak in ("password", "1234567890123", "short"):
        with pytest.raises(ValidationError):
            validate_password(weak)


def test_make_run_s_admin_password_and_the_tests_passwords_pass_the_validators():
    admin = get_user_model()(username=ADMIN_USERNAME)
    for _ in range(50):
        validate_password(new_admin_password(), user=admin)
    validate_password(PASSWORD, user=get_user_model()(username="user-1"))
    validate_password(BROWSER_PASSWORD, user=get_user_model()(username="bob"))


def test_the_admin_refuses_a_common_password_for_a_new_user(admin_client):
    response = admin_client.post(
        reverse("admin:auth_user_add"),
        {"username": "frank", "password1": "password123", "password2": "password123", "usable_password": "true"},
    )
    assert response.status_code == 200
    assert "This password is too common." in response.content.decode()
    assert not get_user_model().objects.filter(username="frank").exists()
