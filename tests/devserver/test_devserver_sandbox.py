"""`make run` and the command sandbox: on a machine without bubblewrap it still works, and says once how to get it."""

import os
import signal
import subprocess
import sys

import pytest

from councilors.runners.sandbox import INSTALL_HINT, WORKER_SANDBOXED, bwrap_probe
from devserver import run as devserver
from tests.processes import PROJECT_DIR, free_port, wait_for_port

PY = sys.executable


@pytest.fixture
def without_bwrap(monkeypatch, tmp_path):
    """A PATH with no bubblewrap on it, as on a fresh machine; the probe asked afresh."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("COUNCILORS_SANDBOX", raising=False)
    bwrap_probe.cache_clear()
    yield str(empty)
    bwrap_probe.cache_clear()


def test_without_bubblewrap_make_run_says_how_to_install_it(without_bwrap):
    notice = devserver.sandbox_notice()
    assert notice == devserver.SANDBOX_MISSING.format(install=INSTALL_HINT)
    assert "apt-get install bubblewrap" in notice


def test_with_bubblewrap_or_a_chosen_sandbox_make_run_says_nothing(monkeypatch):
    monkeypatch.delenv("COUNCILORS_SANDBOX", raising=False)
    assert bwrap_probe().works and devserver.sandbox_notice() is None
    monkeypatch.setenv("COUNCILORS_SANDBOX", "none")
    assert devserver.sandbox_notice() is None  # chosen: nothing to tell


@pytest.mark.slow
def test_make_run_on_a_machine_without_bubblewrap_runs_the_demo_and_says_so_once(tmp_path, without_bwrap):
    var, port = tmp_path / "var", free_port()
    unset = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SECRET_KEY_FILE", "COUNCILORS_SANDBOX")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env.update(
        DJANGO_SETTINGS_MODULE="conductor.settings.base",
        CONDUCTOR_VAR_DIR=str(var),
        PORT=str(port),
        PYTHONUNBUFFERED="1",
        CHANNEL_PREFIX=f"conductor-devserver-test-{port}",
        PATH=without_bwrap,
    )
    console = tmp_path / "console.log"
    with open(console, "wb") as out:
        server = subprocess.Popen([PY, "-m", "devserver"], cwd=PROJECT_DIR, env=env, stdout=out, stderr=out)
    try:
        wait_for_port(port, server, timeout=90)
        command_env = {**env, "SECRET_KEY_FILE": str(var / "secret-key")}
        result = subprocess.run(
            [PY, "manage.py", "run_councilor", "python-version", "--wait", "--timeout", "60"],
            cwd=PROJECT_DIR,
            env=command_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "severity success" in result.stdout, (result.stdout, result.stderr)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=40)
    text = console.read_text()
    assert text.count(devserver.SANDBOX_MISSING.format(install=INSTALL_HINT)) == 1, text[-3000:]
    worker_log = (var / "log" / "worker.log").read_text()
    assert "command runs are NOT sandboxed" in worker_log and WORKER_SANDBOXED not in worker_log
