"""What a command agent's process sees of the server's environment: the allowlist, never its secrets."""

import os
import secrets

import pytest
from django.core.exceptions import ValidationError

from councilors.runners import get_runner
from councilors.runners.command import CommandRunner
from councilors.runners.environment import ENV_SECRET_NAME
from councilors.runners.sandbox import SCRATCH_PREFIX

# Made up per run: a key written down in the repository would be a published key
# (tests/conductor/test_guards.py refuses any that is not on the published list).
_RUN = secrets.token_hex(6)
SERVER_SECRETS = {
    "SECRET_KEY": f"sk-server-secret-{_RUN}",
    "DATABASE_URL": f"postgres://conductor:db-password-{_RUN}@db.internal:5432/conductor",
    "REDIS_URL": f"redis://:redis-password-{_RUN}@cache.internal:6379/0",
    "JWT_SECRET": f"jwt-secret-{_RUN}",
    "EMAIL_HOST_PASSWORD": f"mail-password-{_RUN}",
    "SECRET_KEY_FILE": f"/run/secrets/key-{_RUN}",
    "AWS_SECRET_ACCESS_KEY": f"aws-{_RUN}",
}
# Variables a shell adds to its own environment before `env` prints it.
SHELL_OWN = {"PWD", "OLDPWD", "SHLVL", "_"}
CONTEXT = {"agent_id": "auditor", "execution_id": "exec_auditor_1"}
PRINT_SECRETS_AND_ENV = 'printf "[%s][%s][%s]\\n" "$SECRET_KEY" "$DATABASE_URL" "$REDIS_URL"; env'


@pytest.fixture
def worker_secrets(monkeypatch):
    """The worker runs with the server's secrets in its environment, as in production."""
    for name, value in SERVER_SECRETS.items():
        monkeypatch.setenv(name, value)
    for name, value in {"HOME": "/home/worker", "LANG": "pt_BR.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC"}.items():
        monkeypatch.setenv(name, value)


def run_and_read_env(config: dict) -> tuple[str, dict[str, str]]:
    CommandRunner.validate_config(config)
    output = get_runner("command", config).run("audit now", CONTEXT)
    first, *env_lines = output.splitlines()
    return first, dict(line.split("=", 1) for line in env_lines if "=" in line)


def test_a_run_that_prints_the_servers_secrets_prints_none_of_them(worker_secrets):
    printed, env = run_and_read_env({"argv": ["sh", "-c", PRINT_SECRETS_AND_ENV], "env": {"REVIEW_TOKEN": "agent-own"}})

    assert printed == "[][][]"
    output = printed + "".join(f"{name}={value}" for name, value in env.items())
    assert [value for value in SERVER_SECRETS.values() if value in output] == []
    allowed = {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "REVIEW_TOKEN"}
    assert {name for name in set(env) - SHELL_OWN if name not in allowed and not name.startswith("LC_")} == {
        "CONDUCTOR_PROMPT",
        "CONDUCTOR_AGENT_ID",
        "CONDUCTOR_EXECUTION_ID",
    }
    assert (env["LANG"], env["LC_ALL"], env["TZ"]) == ("pt_BR.UTF-8", "C.UTF-8", "UTC")
    # HOME is the run's own scratch directory, not the worker's home.
    assert env["HOME"] != "/home/worker" and os.path.basename(env["HOME"]).startswith(SCRATCH_PREFIX)
    assert env["REVIEW_TOKEN"] == "agent-own"
    assert (env["CONDUCTOR_PROMPT"], env["CONDUCTOR_AGENT_ID"]) == ("audit now", "auditor")


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "redis_url", "JWT_SECRET", "EMAIL_HOST_PASSWORD"])
def test_the_agents_env_may_not_name_a_server_secret(name):
    with pytest.raises(ValidationError) as excinfo:
        CommandRunner.validate_config({"argv": ["env"], "env": {name: "pasted value", "OK": "1"}})
    assert excinfo.value.message_dict["runner_config"] == [ENV_SECRET_NAME % {"names": name}]


def test_a_row_saved_with_a_secret_name_before_the_rule_does_not_pass_it_on(worker_secrets):
    output = get_runner("command", {"argv": ["env"], "env": {"SECRET_KEY": "typed"}}).run("x", CONTEXT)
    assert "SECRET_KEY" not in output
