import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command

from councilors.checks import (
    BROKER_NOT_ORM,
    SANDBOX_OFF,
    STORED_AGENT_REFUSED,
    TIMEOUT_RETRY_CONFLICT,
    check_sandbox_on,
    check_sandbox_setting,
    check_stored_command_agents,
    check_worker_timeouts,
)
from councilors.models import Agent
from councilors.runners.argv_policy import STDIN_PROGRAM
from councilors.runners.sandbox import SANDBOX_UNAVAILABLE, bwrap_probe
from tests.factories import make_agent
from tests.processes import PROJECT_DIR, process_env

GOOD = {"orm": "default", "timeout": 900, "retry": 960}


def test_the_project_configuration_passes(settings):
    assert check_worker_timeouts() == []


def test_timeout_not_below_retry_is_refused(settings):
    settings.Q_CLUSTER = {**GOOD, "timeout": 960}
    [error] = check_worker_timeouts()
    assert error.id == "councilors.E001"
    assert error.msg == TIMEOUT_RETRY_CONFLICT.format(timeout=960, retry=960)


def test_a_missing_timeout_is_refused(settings):
    settings.Q_CLUSTER = {"orm": "default", "retry": 960}
    assert [error.id for error in check_worker_timeouts()] == ["councilors.E001"]


def test_the_orm_broker_is_required(settings):
    settings.Q_CLUSTER = {"timeout": 60, "retry": 90, "redis": "redis://"}
    [error] = check_worker_timeouts()
    assert (error.id, error.msg) == ("councilors.E002", BROKER_NOT_ORM)


def test_manage_py_check_refuses_a_conflicting_environment():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "conductor.settings.base", "Q_TIMEOUT": "1000", "Q_RETRY": "960"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "councilors.E001" in result.stderr


# --- the command sandbox --------------------------------------------------------------------------------


def test_with_debug_off_and_no_sandbox_check_deploy_warns(settings):
    settings.DEBUG, settings.COUNCILORS_SANDBOX = False, "none"
    [warning] = check_sandbox_on()
    assert warning.id == "councilors.W001"
    assert warning.msg == SANDBOX_OFF % {"mode": "none", "why": ""}
    assert "apt-get install bubblewrap" in warning.hint


def test_with_the_sandbox_on_or_debug_on_check_deploy_says_nothing(settings):
    settings.DEBUG, settings.COUNCILORS_SANDBOX = False, "bwrap"
    assert check_sandbox_on() == []
    settings.DEBUG, settings.COUNCILORS_SANDBOX = True, "none"
    assert check_sandbox_on() == []


def test_manage_py_check_deploy_names_the_unsandboxed_worker():
    env = {**process_env(), "COUNCILORS_SANDBOX": "none", "DEBUG": "false"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert "councilors.W001" in result.stderr and "Command runs are not sandboxed" in result.stderr


def test_an_unknown_sandbox_is_an_error_and_a_broken_bwrap_a_warning(settings, monkeypatch, tmp_path):
    settings.COUNCILORS_SANDBOX = "docker"
    assert [message.id for message in check_sandbox_setting()] == ["councilors.E003"]
    settings.COUNCILORS_SANDBOX = "bwrap"
    assert check_sandbox_setting() == []
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without bubblewrap
    bwrap_probe.cache_clear()
    try:
        [warning] = check_sandbox_setting()
    finally:
        bwrap_probe.cache_clear()
    assert (warning.id, warning.msg) == ("councilors.W003", SANDBOX_UNAVAILABLE % {"reason": "bwrap is not installed"})


def test_a_read_only_path_that_shows_the_project_is_an_error(settings):
    settings.COUNCILORS_SANDBOX_READ_ONLY_PATHS = ["/opt", str(settings.BASE_DIR)]
    [error] = check_sandbox_setting()
    assert error.id == "councilors.E004" and str(settings.BASE_DIR) in error.msg


@pytest.mark.django_db
def test_stored_command_agents_that_no_longer_pass_are_named_with_the_reason():
    good = make_agent(agent_id="fine")
    stdin_program = make_agent(agent_id="stdin-python")
    wrapper = make_agent(agent_id="env-prompt")
    # Saved before today's rules: the rows are written as they were, without validation.
    Agent.objects.filter(pk=stdin_program.pk).update(runner_config={"argv": ["python3", "-", "x"]})
    Agent.objects.filter(pk=wrapper.pk).update(runner_config={"argv": ["env", "--", "{prompt}"]})

    warnings = check_stored_command_agents(databases=["default"])

    assert [(w.id, w.obj.agent_id) for w in warnings] == [
        ("councilors.W002", "env-prompt"),
        ("councilors.W002", "stdin-python"),
    ]
    assert warnings[1].msg == STORED_AGENT_REFUSED % {
        "agent_id": "stdin-python",
        "name": stdin_program.name,
        "reason": STDIN_PROGRAM % {"program": "python3"},
    }
    assert good.agent_id not in " ".join(w.msg for w in warnings)
    assert check_stored_command_agents(databases=None) == []  # a database check: only when asked for one


@pytest.mark.django_db
def test_manage_py_check_with_the_database_reports_stored_agents():
    agent = make_agent(agent_id="awk-prompt")
    Agent.objects.filter(pk=agent.pk).update(runner_config={"argv": ["awk", "--", "{prompt}"]})
    err = StringIO()
    call_command("check", "--database", "default", stderr=err)
    assert "councilors.W002" in err.getvalue() and "'awk-prompt'" in err.getvalue()
