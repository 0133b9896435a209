import os
import subprocess
import sys

from councilors.checks import BROKER_NOT_ORM, TIMEOUT_RETRY_CONFLICT, check_worker_timeouts
from tests.processes import PROJECT_DIR

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
