"""The settings in real processes: production refuses to start unsafe, and the documented production
environment (deploy/production.env, shown in the README) passes `manage.py check --deploy` silently."""

import json
import os
import re
import secrets
import stat
import subprocess
from pathlib import Path

import pytest

from conductor.settings import guards
from devserver.gateway import daphne_argv
from tests.processes import PROJECT_DIR, PYTHON, free_port, process_env

PRODUCTION_ENV = PROJECT_DIR / "deploy" / "production.env"
NO_ISSUES = "System check identified no issues (0 silenced)."
START_TIMEOUT_S = 60


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines; blank lines and `#` comments skipped (the shape docker --env-file and systemd read)."""
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            entries[name.strip()] = value.strip()
    return entries


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S)


def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret-key"
    path.write_text(secrets.token_urlsafe(50) + "\n")
    return path


def without_key(**extra: str) -> dict[str, str]:
    """The tests' process environment with no SECRET_KEY (nor SECRET_KEY_FILE), plus `extra`."""
    env = process_env()
    env.pop("SECRET_KEY")
    return {**env, **extra}


# Production refuses to start unsafe --------------------------------------------------------------

PROCESSES = {
    "manage.py check": [PYTHON, "manage.py", "check"],
    "run_cluster": [PYTHON, "manage.py", "run_cluster"],
    "daphne": daphne_argv(PYTHON, host="127.0.0.1", port="{port}"),
}
UNSAFE_KEYS = {
    "no SECRET_KEY": ({}, guards.SECRET_KEY_MISSING),
    "the published key": ({"SECRET_KEY": guards.DEVELOPMENT_SECRET_KEY}, guards.SECRET_KEY_PUBLISHED),
}


@pytest.mark.parametrize("key", UNSAFE_KEYS, ids=UNSAFE_KEYS.keys())
@pytest.mark.parametrize("process", PROCESSES, ids=PROCESSES.keys())
def test_with_debug_off_a_process_without_a_real_key_exits_naming_secret_key(process, key):
    extra, message = UNSAFE_KEYS[key]
    argv = [part.replace("{port}", str(free_port())) for part in PROCESSES[process]]

    result = run(argv, without_key(DEBUG="false", **extra))

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr
    assert "SECRET_KEY" in message


REFUSED_TOKEN_SETTINGS = {
    "JWT_ALGORITHM=none": ({"JWT_ALGORITHM": "none"}, "JWT_ALGORITHM must be one of HS256, HS384, HS512"),
    "JWT_ALGORITHM=RS256": ({"JWT_ALGORITHM": "RS256"}, "JWT_ALGORITHM must be one of HS256, HS384, HS512"),
    "a short JWT_SECRET": ({"JWT_SECRET": secrets.token_hex(8)}, "JWT_SECRET must be at least 32 bytes"),
    "JWT_TTL_SECONDS over the maximum": ({"JWT_TTL_SECONDS": "90000"}, "JWT_TTL_SECONDS (90000) must be between"),
}


@pytest.mark.parametrize("case", REFUSED_TOKEN_SETTINGS, ids=REFUSED_TOKEN_SETTINGS.keys())
def test_unsafe_token_settings_stop_a_process_naming_the_setting(case):
    extra, message = REFUSED_TOKEN_SETTINGS[case]
    result = run([PYTHON, "manage.py", "check"], process_env(**extra))
    assert result.returncode != 0
    assert message in result.stderr


def test_a_key_from_secret_key_file_starts_the_process(tmp_path):
    path = key_file(tmp_path)
    show_key = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"

    result = run([PYTHON, "-c", show_key], without_key(DEBUG="false", SECRET_KEY_FILE=str(path)))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == path.read_text().strip()


def test_with_debug_on_the_development_key_starts_the_process():
    result = run([PYTHON, "manage.py", "check"], without_key(DEBUG="true"))
    assert result.returncode == 0, result.stderr
    assert NO_ISSUES in result.stdout


# The documented production environment -----------------------------------------------------------


def production_environment(tmp_path: Path, *, without: str = "") -> dict[str, str]:
    """deploy/production.env as it is (less `without`), and nothing of this machine's environment but PATH.

    One change: its SECRET_KEY_FILE names where the deployment mounts its secret, which a test
    machine has not; here it names a file holding a fresh key.
    """
    env = {"PATH": os.environ["PATH"], **read_env_file(PRODUCTION_ENV), "SECRET_KEY_FILE": str(key_file(tmp_path))}
    env.pop(without, None)
    return env


def test_the_production_environment_keeps_its_secret_out_of_the_file():
    documented = read_env_file(PRODUCTION_ENV)
    assert documented["DEBUG"] == "false"
    assert "SECRET_KEY" not in documented and documented["SECRET_KEY_FILE"].startswith("/")


def test_check_deploy_under_the_production_environment_prints_no_warning(tmp_path):
    result = run([PYTHON, "manage.py", "check", "--deploy"], production_environment(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == NO_ISSUES
    assert "WARNING" not in result.stderr and "?:" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "warning"),
    [
        ("SESSION_COOKIE_SECURE", "security.W012"),
        ("CSRF_COOKIE_SECURE", "security.W016"),
        ("SECURE_SSL_REDIRECT", "security.W008"),
        ("SECURE_HSTS_SECONDS", "security.W004"),
    ],
)
def test_each_security_variable_reaches_the_settings(tmp_path, variable, warning):
    # Without it, check --deploy warns: the silence above is the environment's doing, not a default's.
    result = run([PYTHON, "manage.py", "check", "--deploy"], production_environment(tmp_path, without=variable))
    assert warning in result.stderr


# Files under var/ --------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_var_and_the_sqlite_database_are_created_private(tmp_path):
    var = tmp_path / "var"
    env = process_env(CONDUCTOR_VAR_DIR=str(var))
    env.pop("DATABASE_URL")  # the default: SQLite under var/

    result = run([PYTHON, "manage.py", "createcachetable"], env)

    assert result.returncode == 0, result.stderr
    assert mode(var) == 0o700
    assert mode(var / "db.sqlite3") == 0o600
    assert (var / "db.sqlite3").stat().st_size > 0  # the file sqlite3 wrote to is the one made private


def test_an_older_open_var_and_database_are_closed(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    (var / "db.sqlite3").touch()
    (var / "db.sqlite3").chmod(0o644)
    env = process_env(CONDUCTOR_VAR_DIR=str(var))
    env.pop("DATABASE_URL")

    assert run([PYTHON, "manage.py", "check"], env).returncode == 0

    assert (mode(var), mode(var / "db.sqlite3")) == (0o700, 0o600)


# Every documented variable is read; importing the settings touches no file -------------------------

# Recording which variables importing the settings reads (and which files it creates), in a fresh
# process: os.environ and django-environ's copy of it are wrapped before the settings are imported.
READ_BY_SETTINGS = """
import json, os, sys
from pathlib import Path

class Recording(dict):
    read = set()
    def __getitem__(self, name):
        Recording.read.add(name)
        return super().__getitem__(name)
    def __contains__(self, name):
        Recording.read.add(name)
        return super().__contains__(name)
    def get(self, name, default=None):
        Recording.read.add(name)
        return super().get(name, default)

environment = Recording(os.environ)
os.environ = environment
import environ
environ.Env.ENVIRON = environment
var = Path(os.environ["CONDUCTOR_VAR_DIR"])
import conductor.settings.base
print(json.dumps({"read": sorted(Recording.read), "var_made": var.exists()}))
"""
# Documented in the table, read by another program than the settings.
READ_ELSEWHERE = {
    "HOST": PROJECT_DIR / "devserver" / "run.py",
    "PORT": PROJECT_DIR / "devserver" / "run.py",
    "GATEWAY_ACCESS_LOG": PROJECT_DIR / "devserver" / "gateway.py",  # by devserver/run.py, for daphne
    "PROMETHEUS_MULTIPROC_DIR": PROJECT_DIR / "monitoring" / "health.py",  # and prometheus_client
}


def readme_configuration_variables() -> set[str]:
    """The variables of README's "Configuration" table (first column, each spelled in full)."""
    text = (PROJECT_DIR / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_readme_s_configuration_table_lists_exactly_the_variables_the_settings_read(tmp_path):
    var_dir = tmp_path / "var-not-made"
    env = {**process_env(), "CONDUCTOR_VAR_DIR": str(var_dir)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = run([PYTHON, "-c", READ_BY_SETTINGS], env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    read = set(report["read"]) - {"DJANGO_SETTINGS_MODULE"}
    documented = readme_configuration_variables()
    assert documented - read == set(READ_ELSEWHERE)  # every documented variable is read
    assert read - documented == set()  # every variable read is documented
    for name, path in READ_ELSEWHERE.items():
        assert name in path.read_text(), (name, path)
    assert report["var_made"] is False  # importing the settings made no folder


def test_each_app_knob_s_default_is_written_once_in_its_app_settings(settings):
    from dashboard.app_settings import app_settings as dashboard
    from gamification.app_settings import app_settings as gamification

    base = (PROJECT_DIR / "conductor" / "settings" / "base.py").read_text()
    assert "globals()" not in base and "default=None)" in base
    # Unset in the environment, the knob is None and the app's own default applies.
    settings.DASHBOARD_RUNS_PAGE_SIZE = None
    settings.GAMIFICATION_HISTORY_SIZE = None
    assert (dashboard.RUNS_PAGE_SIZE, gamification.HISTORY_SIZE) == (20, 1000)
    settings.DASHBOARD_RUNS_PAGE_SIZE = 7
    assert dashboard.RUNS_PAGE_SIZE == 7
