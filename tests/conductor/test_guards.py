"""The start-up guards of the settings: which secrets and token settings a process refuses, and why."""

import re
import secrets
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from conductor.settings import guards
from tests.processes import PROJECT_DIR


@pytest.fixture
def environ(monkeypatch):
    """No key in the environment to start with; tests set what they need."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    return monkeypatch


def refused(call, *args, **kwargs) -> str:
    with pytest.raises(ImproperlyConfigured) as error:
        call(*args, **kwargs)
    return str(error.value)


def random_key() -> str:
    return secrets.token_urlsafe(50)


# SECRET_KEY --------------------------------------------------------------------------------------


def test_with_debug_off_an_unset_key_is_refused_naming_secret_key(environ):
    message = refused(guards.secret_key, debug=False)
    assert message == guards.SECRET_KEY_MISSING
    assert message.startswith("SECRET_KEY ") and "SECRET_KEY_FILE" in message


@pytest.mark.parametrize("published", sorted(guards.PUBLISHED_SECRET_KEYS))
def test_with_debug_off_a_published_key_is_refused(environ, published, tmp_path):
    environ.setenv("SECRET_KEY", published)
    assert refused(guards.secret_key, debug=False) == guards.SECRET_KEY_PUBLISHED
    # ...and from a file just the same.
    environ.delenv("SECRET_KEY")
    (tmp_path / "key").write_text(published + "\n")
    environ.setenv("SECRET_KEY_FILE", str(tmp_path / "key"))
    assert refused(guards.secret_key, debug=False) == guards.SECRET_KEY_PUBLISHED


def test_the_repository_s_old_default_is_a_published_key():
    assert "dev-insecure-conductor-key-change-me-in-production-0123456789" in guards.PUBLISHED_SECRET_KEYS


def test_a_key_of_one_s_own_is_used(environ):
    key = random_key()
    environ.setenv("SECRET_KEY", key)
    assert guards.secret_key(debug=False) == key


def test_secret_key_file_names_a_file_holding_the_key(environ, tmp_path):
    key = random_key()
    (tmp_path / "key").write_text(f"{key}\n")
    environ.setenv("SECRET_KEY_FILE", str(tmp_path / "key"))
    assert guards.secret_key(debug=False) == key


def test_a_missing_or_empty_key_file_is_refused_naming_it(environ, tmp_path):
    environ.setenv("SECRET_KEY_FILE", str(tmp_path / "nothing"))
    assert refused(guards.secret_key, debug=False).startswith(f"SECRET_KEY_FILE {tmp_path / 'nothing'} cannot be read")
    (tmp_path / "empty").write_text("\n")
    environ.setenv("SECRET_KEY_FILE", str(tmp_path / "empty"))
    assert refused(guards.secret_key, debug=False) == guards.SECRET_KEY_FILE_EMPTY.format(path=tmp_path / "empty")


def test_a_key_and_a_key_file_together_are_refused(environ, tmp_path):
    (tmp_path / "key").write_text(random_key())
    environ.setenv("SECRET_KEY_FILE", str(tmp_path / "key"))
    environ.setenv("SECRET_KEY", random_key())
    assert refused(guards.secret_key, debug=True) == guards.SECRET_KEY_TWICE


def test_with_debug_on_the_development_key_may_be_used(environ):
    assert guards.secret_key(debug=True) == guards.DEVELOPMENT_SECRET_KEY
    environ.setenv("SECRET_KEY", guards.DEVELOPMENT_SECRET_KEY)
    assert guards.secret_key(debug=True) == guards.DEVELOPMENT_SECRET_KEY


# Every key written in the repository is a published one -----------------------------------------

SKIPPED_DIRS = {".git", ".venv", "var", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache"}
TEXT_SUFFIXES = {".py", ".md", ".env", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".json", ".html", ".js", ""}
# A key given a literal value: `X_SECRET_KEY = "..."`, `"SECRET_KEY": "..."`, `env("SECRET_KEY", default="...")`,
# `SECRET_KEY=...` in a shell or an env file. Names, not values, follow `$`, `settings.`, `os.environ`...
KEY_NAMES = r"(?:SECRET_KEY|JWT_SECRET)"
LITERAL_KEYS = [
    re.compile(KEY_NAMES + r"""["']?\s*[:=]\s*["']([^"'\s]{8,})["']"""),
    re.compile(KEY_NAMES + r"""["'],\s*default=["']([^"']{8,})["']"""),
    re.compile(r"^\s*(?:export\s+)?" + KEY_NAMES + r"""=([^\s"'$`]{8,})\s*$""", re.MULTILINE),
]


def repository_files() -> list[Path]:
    found = []
    for path in PROJECT_DIR.rglob("*"):
        parts = set(path.relative_to(PROJECT_DIR).parts)
        if path.is_file() and not parts & SKIPPED_DIRS and path.suffix in TEXT_SUFFIXES:
            found.append(path)
    return found


def test_every_key_written_in_the_repository_is_in_the_published_list():
    written = {}
    for path in repository_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in LITERAL_KEYS:
            for value in pattern.findall(text):
                written.setdefault(value, str(path.relative_to(PROJECT_DIR)))
    assert guards.DEVELOPMENT_SECRET_KEY in written  # the scan does find keys
    unlisted = {value: path for value, path in written.items() if value not in guards.PUBLISHED_SECRET_KEYS}
    assert unlisted == {}, "add these to guards.PUBLISHED_SECRET_KEYS (or do not write keys down)"


# Tokens ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_the_hmac_algorithms_are_accepted(algorithm):
    assert guards.jwt_algorithm(algorithm) == algorithm


@pytest.mark.parametrize("algorithm", ["none", "RS256", "ES256", "PS256", "hs256", ""])
def test_any_other_algorithm_is_refused_naming_jwt_algorithm(algorithm):
    assert refused(guards.jwt_algorithm, algorithm) == guards.JWT_ALGORITHM_REFUSED.format(
        allowed="HS256, HS384, HS512", value=algorithm
    )


def test_an_unset_jwt_secret_means_derive_it():
    assert guards.jwt_secret("", secret_key=random_key()) == ""


def test_a_long_random_jwt_secret_is_accepted():
    value = secrets.token_urlsafe(32)
    assert guards.jwt_secret(value, secret_key=random_key()) == value


def test_a_short_jwt_secret_is_refused():
    short = secrets.token_hex(15)  # 30 bytes
    assert refused(guards.jwt_secret, short, secret_key=random_key()) == guards.JWT_SECRET_TOO_SHORT.format(
        minimum=32, length=30
    )


def test_a_jwt_secret_that_is_the_secret_key_or_published_is_refused():
    key = random_key()
    assert refused(guards.jwt_secret, key, secret_key=key) == guards.JWT_SECRET_IS_SECRET_KEY
    published = guards.DEVELOPMENT_SECRET_KEY
    assert refused(guards.jwt_secret, published, secret_key=key) == guards.JWT_SECRET_PUBLISHED


def test_the_default_lifetime_must_fit_under_the_maximum():
    assert guards.jwt_ttl(3600, maximum=86400) == 3600
    assert guards.jwt_ttl(86400, maximum=86400) == 86400
    for ttl in (0, -1, 86401):
        assert refused(guards.jwt_ttl, ttl, maximum=86400) == guards.JWT_TTL_OUT_OF_RANGE.format(ttl=ttl, maximum=86400)


# The proxy header --------------------------------------------------------------------------------


def test_the_proxy_ssl_header_is_a_header_and_its_value():
    assert guards.proxy_ssl_header([]) is None
    assert guards.proxy_ssl_header(["HTTP_X_FORWARDED_PROTO", "https"]) == ("HTTP_X_FORWARDED_PROTO", "https")
    for bad in (["HTTP_X_FORWARDED_PROTO"], ["HTTP_X_FORWARDED_PROTO", "https", "x"], ["", "https"]):
        assert "SECURE_PROXY_SSL_HEADER" in refused(guards.proxy_ssl_header, bad)
