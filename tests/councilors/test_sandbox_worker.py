"""The sandbox on a real worker: a real `run_cluster` runs councilors whose commands try to reach the server."""

import json
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.db import connection

from councilors.models import Execution
from councilors.runners.sandbox import SCRATCH_PREFIX, WORKER_SANDBOXED, WORKER_UNSANDBOXED
from tests.councilors.cluster import eventually, make_due, qclusters
from tests.councilors.run_processes import TREE_SCRIPT, new_marker, wait_until_gone, wait_until_running
from tests.factories import make_agent, make_councilor
from tests.processes import PROJECT_DIR, process_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PY = sys.executable
# A hostile agent's program: it reads its parent's environment, the database, the key and manage.py,
# lists /proc and the project, and prints what it got. The run must still complete.
TRIES_EVERYTHING = """import json, os, sys
paths = json.loads(sys.argv[1])
paths['parent environ'] = f'/proc/{os.getppid()}/environ'
got = {}
for name, path in paths.items():
    try:
        with open(path, 'rb') as f:
            got[name] = 'READ ' + f.read(200).decode('latin-1')
    except OSError as exc:
        got[name] = 'DENIED ' + type(exc).__name__
for name, folder in (('proc', '/proc'), ('project', sys.argv[2])):
    try:
        got[name] = sorted(os.listdir(folder))
    except OSError as exc:
        got[name] = 'DENIED ' + type(exc).__name__
print(json.dumps(got))
"""


@pytest.fixture
def secret_key_file():
    path = Path(settings.VAR_DIR) / "secret-key"
    made = not path.exists()
    if made:
        path.write_text(secrets.token_urlsafe(50) + "\n")
    yield path
    if made:
        path.unlink()


def _finished(councilor) -> Execution | None:
    return Execution.objects.filter(councilor=councilor).exclude(status="running").first()


def test_a_hostile_command_on_a_real_worker_reaches_nothing_and_its_run_completes(tmp_path, secret_key_file):
    # The SQLite file of the run (on PostgreSQL, where an embedded install keeps it: var/).
    database = Path(
        connection.settings_dict["NAME"] if connection.vendor == "sqlite" else settings.VAR_DIR / "db.sqlite3"
    )
    paths = {
        "database": str(database),
        "secret-key": str(secret_key_file),
        "manage.py": str(Path(settings.BASE_DIR) / "manage.py"),
    }
    argv = [PY, "-c", TRIES_EVERYTHING, json.dumps(paths), str(settings.BASE_DIR)]
    councilor = make_councilor(agent=make_agent(runner_config={"argv": argv, "timeout": 30}), schedule_value="1m")
    log = tmp_path / "qcluster-0.log"
    with qclusters(log_dir=tmp_path, COUNCILORS_SANDBOX="bwrap"):
        make_due(councilor)
        execution = eventually(lambda: _finished(councilor), what="run finished")

    assert (execution.status, execution.error) == ("completed", ""), execution.output
    got = json.loads(execution.output)
    tried = ["database", "secret-key", "manage.py", "parent environ"]
    assert {name: got[name].split()[0] for name in tried} == dict.fromkeys(tried, "DENIED")
    assert [entry for entry in got["proc"] if entry.isdigit()] == ["1", "2"]
    assert "manage.py" not in got["project"] and "var" not in got["project"]
    for secret in (settings.SECRET_KEY, secret_key_file.read_text().strip(), "SQLite format 3"):
        assert secret not in execution.output
    # The worker said, once, where its command runs execute.
    assert log.read_text().count(WORKER_SANDBOXED) == 1


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_worker_that_dies_takes_its_runs_whole_tree_with_it(tmp_path, sig):
    marker = new_marker()
    agent = make_agent(runner_config={"argv": [PY, "-c", TREE_SCRIPT, marker], "timeout": 120})
    councilor = make_councilor(agent=agent, schedule_value="1m")
    with qclusters(log_dir=tmp_path, COUNCILORS_SANDBOX="bwrap"):
        make_due(councilor)
        running = eventually(lambda: Execution.objects.filter(councilor=councilor, status="running").first())
        wait_until_running(
            marker, count=5
        )  # bwrap, its init, the program, its child and the one in a session of its own
        worker = psutil.Process(int(running.worker.rpartition(":")[2]))
        worker.send_signal(sig)
        left = wait_until_gone(marker, within=2)
    assert left == []
    # Its scratch directory outlived it; the next worker to start removes it.
    [orphan] = Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{worker.pid}-*")
    subprocess.run([PY, "manage.py", "run_cluster", "--run-once"], cwd=PROJECT_DIR, env=process_env(), timeout=60)
    assert not orphan.exists()


def test_an_unsandboxed_worker_says_at_start_up_that_runs_share_its_rights():
    env = process_env(COUNCILORS_SANDBOX="none")
    result = subprocess.run(
        [PY, "manage.py", "run_cluster", "--run-once"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = result.stdout + result.stderr
    assert said.count(WORKER_UNSANDBOXED % {"why": ""}) == 1, said
    assert "WARNING" in next(line for line in said.splitlines() if WORKER_UNSANDBOXED % {"why": ""} in line)


def test_a_sandboxed_worker_says_so_at_start_up():
    env = {**process_env(), "LOG_LEVEL": "INFO"}
    env.pop("COUNCILORS_SANDBOX", None)
    result = subprocess.run(
        [PY, "manage.py", "run_cluster", "--run-once"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.stdout + result.stderr).count(WORKER_SANDBOXED) == 1
