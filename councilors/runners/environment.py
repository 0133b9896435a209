"""The environment a `command` agent's process gets: an allowlist, never the server's own.

Workers run with the server's secrets in their environment (SECRET_KEY, JWT_SECRET, DATABASE_URL,
REDIS_URL, EMAIL_HOST_PASSWORD, …) and any user who may read a run's output could have a command
print them. So a child gets only what a program needs to behave (PATH, locale, time zone), HOME set
to the run's scratch directory, the agent's own `env`, and the CONDUCTOR_* variables this runner
sets for the run.
"""

import os
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_noop

PASSED_THROUGH = frozenset({"PATH", "LANG", "LANGUAGE", "TZ"})
PASSED_THROUGH_PREFIXES = ("LC_",)
_PASSED_THROUGH_BYTES = frozenset(os.fsencode(name) for name in PASSED_THROUGH)
_PASSED_THROUGH_PREFIXES_BYTES = tuple(os.fsencode(prefix) for prefix in PASSED_THROUGH_PREFIXES)
# Names of the server's secrets. The agent's `env` may not set them either, although its values
# are literals typed by an admin and never the server's: a name such as DATABASE_URL there is
# almost always the server's value pasted in (to make a `manage.py …` agent work), which would put
# the secret in the agent's row, the admin form, and every run that prints its environment.
# Refusing the names costs nothing and keeps "runs never see the server's secrets" true.
SERVER_SECRET_NAMES = frozenset(
    {
        "SECRET_KEY",
        "SECRET_KEY_FILE",
        "JWT_SECRET",
        "JWT_SECRET_FILE",
        "DATABASE_URL",
        "REDIS_URL",
        "EMAIL_HOST_PASSWORD",
        "DJANGO_SUPERUSER_PASSWORD",
    }
)
ENV_SECRET_NAME = gettext_noop(  # a settings error, in the admin's language when raised
    "env must not set %(names)s: those names hold the server's own secrets, which runs never see. "
    "Give the agent credentials of its own under other names."
)


def env_secret_names(env: Mapping[str, str]) -> list[str]:
    """The names in an agent's `env` that are the server's secrets (refused by validation)."""
    return sorted(name for name in env if name.upper() in SERVER_SECRET_NAMES)


def child_environment(*, agent_env: Mapping[str, str], run_vars: Mapping[str, Any], home: str) -> dict[str, str]:
    """The allowlisted part of this process's environment, HOME, then the agent's `env`, then the run's CONDUCTOR_*."""
    # The names as bytes, and only the few passed through decoded: a worker's environment is long,
    # and decoding all of it was a visible part of a trivial run's CPU (bench/runs.py's profile).
    passed = [
        os.fsdecode(name)
        for name in os.environb
        if name in _PASSED_THROUGH_BYTES or name.startswith(_PASSED_THROUGH_PREFIXES_BYTES)
    ]
    inherited = {name: os.environ[name] for name in passed}
    own = {name: value for name, value in agent_env.items() if name.upper() not in SERVER_SECRET_NAMES}
    conductor = {f"CONDUCTOR_{name.upper()}": str(value) for name, value in run_vars.items()}
    return {**inherited, "HOME": home, **own, **conductor}
