"""Command runs in the bubblewrap sandbox: what they see, what they may use, and how they end.

Every test here runs with COUNCILORS_SANDBOX=bwrap (a machine without a working bubblewrap fails
them; CI installs it), except where the unsandboxed path is what a test compares against.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from councilors.demo import demo_definitions
from councilors.runners import RunCancelled, RunControl, RunLimitExceeded, RunnerError, RunTimedOut, get_runner
from councilors.runners.command import COULD_NOT_START, CommandRunner
from councilors.runners.limits import LIMIT_INVALID, LIMIT_UNKNOWN, LIMITS_NOT_OBJECT
from councilors.runners.sandbox import (
    NOBODY_UID,
    PATH_HIDDEN,
    PATH_NOT_ABSOLUTE,
    SANDBOX_INVALID,
    SANDBOX_UNAVAILABLE,
    SCRATCH_PREFIX,
    bwrap_probe,
    prepared_run,
    remove_orphaned_scratch,
)
from councilors.runners.sandbox import bwrap as sandbox_bwrap
from councilors.runners.sandbox import paths as sandbox_paths
from tests.councilors.run_processes import TREE_SCRIPT, new_marker, processes_with, wait_until_gone

PY = sys.executable
CONTEXT = {"agent_id": "sandboxed", "execution_id": "exec_sandboxed_1"}
TRIES = """import json, os, sys
tried = {}
for name, path in json.loads(sys.argv[1]).items():
    try:
        with open(path, 'rb') as f:
            tried[name] = 'READ ' + f.read(80).decode('latin-1')
    except OSError as exc:
        tried[name] = 'DENIED ' + type(exc).__name__
for name, path in json.loads(sys.argv[2]).items():
    try:
        tried[name] = sorted(os.listdir(path))
    except OSError as exc:
        tried[name] = 'DENIED ' + type(exc).__name__
print(json.dumps(tried))
"""


def run(config: dict, prompt: str = "x", control: RunControl | None = None, on_output=None) -> str:
    CommandRunner.validate_config(config)
    return get_runner("command", config).run(prompt, CONTEXT, on_output, control)


def database_path() -> Path:
    """The SQLite database file of this test run (on PostgreSQL, where an embedded install keeps it: var/)."""
    if connection.vendor == "sqlite":
        return Path(connection.settings_dict["NAME"])
    return Path(settings.VAR_DIR) / "db.sqlite3"


def sqlite_header(path: Path) -> bytes:
    # Read by another process: closing a file of the database in this one would drop SQLite's locks on it.
    return subprocess.run(["head", "-c", "15", str(path)], capture_output=True, check=True).stdout


@pytest.fixture
def secret_key_file():
    """var/secret-key as `make run` leaves it (made for the test when this checkout has none)."""
    path = Path(settings.VAR_DIR) / "secret-key"
    made = not path.exists()
    if made:
        path.write_text(secrets.token_urlsafe(50) + "\n")
    yield path
    if made:
        path.unlink()


@pytest.fixture
def readable_tmp_path(tmp_path):
    """tmp_path readable by everyone: a root worker's runs are nobody on the host."""
    tmp_path.chmod(0o755)
    return tmp_path


# --- what a run sees -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_reads_nothing_of_the_project_var_the_database_or_the_worker(sandbox, secret_key_file):
    if connection.vendor == "sqlite":
        assert sqlite_header(database_path()) == b"SQLite format 3"  # there to be read, by the worker
    files = {
        "database": str(database_path()),
        "secret-key": str(secret_key_file),
        "manage.py": str(Path(settings.BASE_DIR) / "manage.py"),
        "worker environ": f"/proc/{os.getpid()}/environ",
        "parent environ": "/proc/1/environ",
        "root's home": "/root/.bashrc",
        "shadow": "/etc/shadow",
    }
    folders = {"proc": "/proc", "project": str(settings.BASE_DIR), "var": str(settings.VAR_DIR), "home": "/home"}
    output = run({"argv": [PY, "-c", TRIES, json.dumps(files), json.dumps(folders)]})

    tried = json.loads(output)
    assert {name: tried[name].split()[0] for name in files} == dict.fromkeys(files, "DENIED")
    assert secret_key_file.read_text().strip() not in output and settings.SECRET_KEY not in output
    # Its own processes only: the sandbox's init (1) and the program (2); none of the host's.
    assert [entry for entry in tried["proc"] if entry.isdigit()] == ["1", "2"]
    # The project directory shows only the worker's virtualenv (its interpreter), never manage.py or var/.
    assert "manage.py" not in tried["project"] and "var" not in tried["project"]
    assert set(tried["project"]) <= {".venv"}
    assert tried["var"] == "DENIED FileNotFoundError" and tried["home"] == "DENIED FileNotFoundError"


@pytest.mark.django_db
@pytest.mark.parametrize("prompt", ["{db}", "/proc/self/cwd/var/secret-key", "{secret_key}", "/proc/1/environ"])
def test_cat_given_a_server_file_as_its_prompt_reads_nothing_of_it(sandbox, secret_key_file, prompt):
    prompt = prompt.format(db=database_path(), secret_key=secret_key_file)
    with pytest.raises(RunnerError) as excinfo:
        run({"argv": ["cat", "--", "{prompt}"]}, prompt=prompt)
    assert excinfo.value.reason == "exited with status 1"
    assert excinfo.value.output.startswith(f"cat: {prompt}: ")
    assert "SQLite format 3" not in excinfo.value.output
    assert secret_key_file.read_text().strip() not in excinfo.value.output


def test_the_workers_environment_is_in_no_process_a_run_can_see(sandbox, monkeypatch):
    secret = f"worker-secret-{secrets.token_hex(8)}"
    monkeypatch.setenv("SECRET_KEY", secret)
    monkeypatch.setenv("DATABASE_URL", f"postgres://conductor:{secret}@db/conductor")
    script = (
        "import os\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()] + ['self']:\n"
        "    try: print(pid, open(f'/proc/{pid}/environ', 'rb').read().decode('latin-1'))\n"
        "    except OSError as exc: print(pid, type(exc).__name__)\n"
    )
    output = run({"argv": [PY, "-c", script]})
    assert secret not in output
    assert "CONDUCTOR_AGENT_ID=sandboxed" in output  # its own environment is readable: it is the run's


def test_a_run_has_what_programs_need_of_etc_and_none_of_its_secrets(sandbox):
    script = (
        "import os, ssl, time\n"
        "print(ssl.create_default_context().cert_store_stats()['x509_ca'] > 0)\n"
        "print(time.tzname[0], os.path.exists('/etc/resolv.conf'), os.path.exists('/etc/hosts'))\n"
        "print([name for name in ('shadow', 'sudoers', 'ssl/private', 'gshadow') if os.path.exists('/etc/' + name)])\n"
        "import pwd; print(pwd.getpwuid(os.getuid()).pw_name, pwd.getpwuid(os.getuid()).pw_dir == os.environ['HOME'])\n"
    )
    assert run({"argv": [PY, "-c", script]}).splitlines() == ["True", f"{time.tzname[0]} True True", "[]", "run True"]


@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_the_scratch_directory_is_home_and_working_directory_and_is_removed_afterwards(settings, mode):
    settings.COUNCILORS_SANDBOX = mode
    script = (
        "import os\n"
        "open('made-by-the-run', 'w').write('x')\n"
        "os.makedirs('locked/inner'); os.chmod('locked', 0)\n"
        "print(os.getcwd()); print(os.environ['HOME']); print(sorted(os.listdir('.')))\n"
    )
    cwd, home, listing = run({"argv": [PY, "-c", script]}).splitlines()
    assert cwd == home and os.path.basename(cwd).startswith(SCRATCH_PREFIX)
    assert listing == "['locked', 'made-by-the-run']"
    assert not os.path.exists(cwd)  # removed, even with a folder its owner could not enter


def test_scratch_directories_of_dead_workers_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen(["true"])
    gone.wait()
    orphan = tmp_path / f"{SCRATCH_PREFIX}{gone.pid}-abc123"
    (orphan / "inner").mkdir(parents=True)
    (orphan / "inner" / "file").write_text("left by a run")
    live = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-def456"
    live.mkdir()
    unrelated = tmp_path / "conductor-run-notes"
    unrelated.mkdir()

    assert remove_orphaned_scratch() == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([live.name, unrelated.name])


def test_each_run_has_a_scratch_directory_of_its_own(sandbox):
    script = "import os; print(os.getcwd(), sorted(os.listdir('.'))); open('mine', 'w').write('x')"
    first, second = (run({"argv": [PY, "-c", script]}).split(" ", 1) for _ in range(2))
    assert first[0] != second[0] and first[1] == second[1] == "[]\n"


def test_the_agents_cwd_is_its_working_directory_and_read_only(sandbox, readable_tmp_path):
    (readable_tmp_path / "data.txt").write_text("the admin's data\n")
    script = (
        "import os\n"
        "print(os.getcwd()); print(open('data.txt').read().strip())\n"
        "try: open('new.txt', 'w')\n"
        "except OSError as exc: print('write refused:', exc.strerror)\n"
    )
    output = run({"argv": [PY, "-c", script], "cwd": str(readable_tmp_path)})
    assert output.splitlines() == [str(readable_tmp_path), "the admin's data", "write refused: Read-only file system"]
    assert sorted(path.name for path in readable_tmp_path.iterdir()) == ["data.txt"]


@pytest.mark.parametrize(
    ("cwd", "hidden"),
    [
        ("{base}", "the project directory"),
        ("{base}/councilors", "the project directory"),
        ("{var}", "var/"),
        ("/", "the project directory"),
    ],
)
def test_a_cwd_that_would_show_the_project_or_var_is_refused(cwd, hidden):
    cwd = cwd.format(base=settings.BASE_DIR, var=settings.VAR_DIR)
    with pytest.raises(ValidationError) as excinfo:
        CommandRunner.validate_config({"argv": ["ls"], "cwd": cwd})
    assert excinfo.value.message_dict["runner_config"] == [PATH_HIDDEN % {"what": "cwd", "path": cwd, "hidden": hidden}]


def test_a_relative_cwd_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        CommandRunner.validate_config({"argv": ["ls"], "cwd": "scripts"})
    assert excinfo.value.message_dict["runner_config"] == [PATH_NOT_ABSOLUTE % {"what": "cwd", "path": "scripts"}]


def test_a_program_the_sandbox_does_not_show_cannot_start_and_says_where_it_looked(sandbox):
    with pytest.raises(RunnerError) as excinfo:
        run({"argv": [str(Path(settings.BASE_DIR) / "manage.py"), "check"]})
    program = str(Path(settings.BASE_DIR) / "manage.py")
    assert excinfo.value.reason.startswith(COULD_NOT_START % {"program": program, "reason": "No such file"})
    assert "in the sandbox, which shows /usr" in excinfo.value.reason


def test_a_root_worker_s_run_is_nobody_on_the_host_and_anyone_else_s_is_the_worker_s_user(sandbox):
    marker = new_marker()
    seen: dict[str, int] = {}

    def look(line: str) -> None:
        [program] = [process for process in processes_with(marker) if process.cmdline()[0] == PY]
        seen["uid"] = program.uids().real

    run({"argv": [PY, "-c", "import sys, time; print('up', flush=True); time.sleep(1)", marker]}, on_output=look)
    assert seen["uid"] == (NOBODY_UID if os.geteuid() == 0 else os.getuid())


# --- network -----------------------------------------------------------------------------------------------


@pytest.fixture
def listener() -> socket.socket:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


CONNECT = """import socket, sys
try:
    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5).close(); print('connected')
except OSError as exc:
    print('no connection:', type(exc).__name__)
"""


def test_a_run_has_the_network_by_default(sandbox, listener):
    assert run({"argv": [PY, "-c", CONNECT, str(listener.getsockname()[1])]}) == "connected\n"


def test_a_run_whose_agent_says_network_false_has_only_a_loopback_of_its_own(sandbox, listener):
    config = {"argv": [PY, "-c", CONNECT, str(listener.getsockname()[1])], "network": False}
    assert run(config) == "no connection: ConnectionRefusedError\n"


def test_network_must_be_true_or_false():
    with pytest.raises(ValidationError) as excinfo:
        CommandRunner.validate_config({"argv": ["ls"], "network": "off"})
    assert "network must be true or false" in excinfo.value.message_dict["runner_config"][0]


# --- limits -------------------------------------------------------------------------------------------------

HOGS = {
    "cpu_seconds": ([PY, "-c", "while True: pass"], 1, "exited with status 152: exceeded its CPU time limit (1 s)"),
    "memory_mb": (
        [PY, "-c", "b = bytearray(600 * 2**20)"],
        256,
        "exited with status 1: hit its memory limit (256 MB)",
    ),
    "processes": (
        [PY, "-c", "import subprocess\nchildren = [subprocess.Popen(['sleep', '5']) for _ in range(40)]"],
        8,
        "exited with status 1: hit its process limit (8 processes)",
    ),
    "file_size_mb": (
        ["sh", "-c", "head -c 3000000 /dev/zero > big"],
        1,
        "exited with status 153: hit its file size limit (1 MB)",
    ),
}


@pytest.mark.parametrize("limit", HOGS)
def test_a_run_that_hits_a_limit_ends_with_an_error_naming_it(sandbox, limit):
    argv, value, reason = HOGS[limit]
    with pytest.raises(RunLimitExceeded) as excinfo:
        run({"argv": argv, "limits": {limit: value}, "timeout": 30})
    assert (excinfo.value.limit, excinfo.value.reason) == (limit, reason)


@pytest.mark.parametrize("limit", ["cpu_seconds", "memory_mb", "file_size_mb"])
def test_limits_apply_without_the_sandbox_too(no_sandbox, limit):
    argv, value, reason = HOGS[limit]
    # Without bwrap in between, a signal that ends the program is the run's own status (SIGXCPU).
    reason = reason.replace("exited with status 152", "was killed by SIGXCPU")
    with pytest.raises(RunLimitExceeded) as excinfo:
        run({"argv": argv, "limits": {limit: value}, "timeout": 30})
    assert (excinfo.value.limit, excinfo.value.reason) == (limit, reason)


def test_a_python_program_that_writes_too_big_a_file_names_the_limit(sandbox):
    # Python ignores SIGXFSZ: the write fails with "File too large" instead of the signal.
    with pytest.raises(RunLimitExceeded) as excinfo:
        run({"argv": [PY, "-c", "open('big', 'wb').write(bytes(3 * 2**20))"], "limits": {"file_size_mb": 1}})
    assert excinfo.value.reason == "exited with status 1: hit its file size limit (1 MB)"
    assert "File too large" in excinfo.value.output


def test_the_default_limits_are_the_settings(sandbox, settings):
    settings.COUNCILORS_LIMIT_CPU_SECONDS = 1
    with pytest.raises(RunLimitExceeded) as excinfo:
        run({"argv": [PY, "-c", "while True: pass"], "timeout": 30})
    assert excinfo.value.reason.endswith("exceeded its CPU time limit (1 s)")


BARRIER = """import socket, subprocess, sys
children = [subprocess.Popen(['sleep', '5']) for _ in range(4)]
with socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20) as barrier:
    assert barrier.recv(2) == b'go'
    children.append(subprocess.Popen(['sleep', '5']))
print('six processes at once')
for child in children: child.kill()
"""


def test_the_process_limit_counts_each_run_alone(sandbox, listener):
    """Two runs of 6 processes each, alive at once, under a limit of 8: neither is refused a process."""
    listener.listen(2)

    def release_both_once_both_wait() -> None:
        waiting = [listener.accept()[0] for _ in range(2)]
        for connection_ in waiting:
            connection_.sendall(b"go")
            connection_.close()

    threading.Thread(target=release_both_once_both_wait, daemon=True).start()
    config = {"argv": [PY, "-c", BARRIER, str(listener.getsockname()[1])], "limits": {"processes": 8}, "timeout": 30}
    outputs: list[str] = []
    runs = [threading.Thread(target=lambda: outputs.append(run(config))) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(timeout=40)
    assert outputs == ["six processes at once\n"] * 2


def test_without_the_sandbox_the_process_limit_is_not_applied(no_sandbox):
    # It would count every process of the worker's user, the worker's own threads included.
    script = "import subprocess\nchildren = [subprocess.Popen(['true']) for _ in range(10)]\nprint('ten')"
    assert run({"argv": [PY, "-c", script], "limits": {"processes": 2}}) == "ten\n"


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ([60], LIMITS_NOT_OBJECT),
        ({"cpu": 60}, LIMIT_UNKNOWN % {"name": "cpu", "known": "cpu_seconds, memory_mb, processes, file_size_mb"}),
        ({"memory_mb": 0}, LIMIT_INVALID % {"name": "memory_mb", "maximum": 1 << 20, "value": 0}),
        ({"processes": "64"}, LIMIT_INVALID % {"name": "processes", "maximum": 1 << 20, "value": "64"}),
        ({"cpu_seconds": True}, LIMIT_INVALID % {"name": "cpu_seconds", "maximum": 7 * 86_400, "value": True}),
        ({"file_size_mb": 2.5}, LIMIT_INVALID % {"name": "file_size_mb", "maximum": 1 << 30, "value": 2.5}),
    ],
)
def test_bad_limits_are_refused_naming_what_is_wrong(limits, message):
    with pytest.raises(ValidationError) as excinfo:
        CommandRunner.validate_config({"argv": ["ls"], "limits": limits})
    assert excinfo.value.message_dict["runner_config"] == [message]


def test_good_limits_are_accepted():
    limits = {"cpu_seconds": 60, "memory_mb": 512, "processes": 64, "file_size_mb": 64}
    CommandRunner.validate_config({"argv": ["ls"], "limits": limits})


# --- killing a run kills its tree ---------------------------------------------------------------------------


def start_tree_and(action, marker: str, control: RunControl, **config):
    """Run TREE_SCRIPT; once its tree is up, call `action`; return the error the run ended with."""
    started = threading.Event()

    def on_output(line: str) -> None:
        if line == "tree started\n":
            started.set()

    threading.Thread(target=lambda: started.wait(30) and action(), daemon=True).start()
    with pytest.raises(RunnerError) as excinfo:
        run({"argv": [PY, "-c", TREE_SCRIPT, marker], **config}, control=control, on_output=on_output)
    assert started.is_set()
    return excinfo.value


@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_a_timed_out_run_leaves_no_process_behind(settings, mode):
    settings.COUNCILORS_SANDBOX = mode
    marker = new_marker()
    error = start_tree_and(lambda: None, marker, RunControl(), timeout=2)
    assert isinstance(error, RunTimedOut) and error.output == "tree started\n"
    assert wait_until_gone(marker, within=2) == []


@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_a_cancelled_run_leaves_no_process_behind(settings, mode):
    settings.COUNCILORS_SANDBOX = mode
    marker, control = new_marker(), RunControl()
    error = start_tree_and(control.stop.set, marker, control, timeout=60)
    assert isinstance(error, RunCancelled) and error.output == "tree started\n"
    assert wait_until_gone(marker, within=2) == []


def test_a_finished_run_leaves_no_process_behind(sandbox):
    marker = new_marker()
    script = (
        "import subprocess, sys\n"
        "sleeper = [sys.executable, '-c', 'import time; time.sleep(120)', sys.argv[1]]\n"
        "subprocess.Popen(sleeper, start_new_session=True)\n"
        "print('ok')"
    )
    assert run({"argv": [PY, "-c", script, marker]}) == "ok\n"
    assert wait_until_gone(marker, within=2) == []


# --- which sandbox ------------------------------------------------------------------------------------------


@pytest.fixture
def without_bwrap(monkeypatch, tmp_path):
    """This process's PATH without bubblewrap, as on a machine that lacks it (the probe asked afresh)."""
    monkeypatch.setenv("PATH", str(tmp_path))
    bwrap_probe.cache_clear()
    yield
    bwrap_probe.cache_clear()


def test_where_bwrap_works_it_is_the_default(settings):
    del settings.COUNCILORS_SANDBOX
    assert bwrap_probe().works, bwrap_probe().reason
    with prepared_run(argv=["true"], config={}) as prepared:
        assert prepared.sandboxed and os.path.basename(prepared.argv[0]) == "bwrap"


def test_where_bwrap_is_missing_the_default_is_none_and_runs_still_work(settings, without_bwrap):
    del settings.COUNCILORS_SANDBOX
    assert bwrap_probe().missing
    assert run({"argv": [PY, "-c", "print('unsandboxed')"]}) == "unsandboxed\n"


def test_an_explicit_bwrap_where_it_cannot_run_fails_the_run_instead_of_running_it_unsandboxed(sandbox, without_bwrap):
    with pytest.raises(RunnerError) as excinfo:
        run({"argv": [PY, "-c", "print('ran')"]})
    assert excinfo.value.reason == SANDBOX_UNAVAILABLE % {"reason": "bwrap is not installed"}
    assert "apt-get install bubblewrap" in excinfo.value.reason and excinfo.value.output == ""


def test_an_unknown_sandbox_setting_fails_the_run_naming_the_choices(settings):
    settings.COUNCILORS_SANDBOX = "docker"
    with pytest.raises(RunnerError) as excinfo:
        run({"argv": ["true"]})
    assert excinfo.value.reason == SANDBOX_INVALID % {"choices": "bwrap or none", "value": "docker"}


def test_a_read_only_path_shows_the_run_a_host_folder(sandbox, settings, readable_tmp_path):
    (readable_tmp_path / "tool.txt").write_text("shared\n")
    settings.COUNCILORS_SANDBOX_READ_ONLY_PATHS = [str(readable_tmp_path)]
    assert run({"argv": ["cat", "--", "{prompt}"]}, prompt=str(readable_tmp_path / "tool.txt")) == "shared\n"


def test_a_read_only_path_that_would_show_var_fails_the_run(sandbox, settings):
    settings.COUNCILORS_SANDBOX_READ_ONLY_PATHS = [str(settings.VAR_DIR)]
    with pytest.raises(RunnerError) as excinfo:
        run({"argv": ["true"]})
    entry = "COUNCILORS_SANDBOX_READ_ONLY_PATHS entry"
    assert excinfo.value.reason == PATH_HIDDEN % {"what": entry, "path": str(settings.VAR_DIR), "hidden": "var/"}


def test_the_unprivileged_path_runs_as_an_unprivileged_worker_would(sandbox, monkeypatch):
    """A worker that is not root: bwrap makes the user namespace itself, and the process limit holds."""
    monkeypatch.setattr(sandbox_bwrap, "worker_is_root", lambda: False)
    monkeypatch.setattr(sandbox_paths, "interpreter_prefixes", lambda: [])  # under /root: not nobody's to bind
    script = "id -u; for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo started"
    with prepared_run(argv=["sh", "-c", script], config={"limits": {"processes": 4}}) as prepared:
        assert "--unshare-user" in prepared.argv and not any("setpriv" in arg for arg in prepared.argv)
        os.chown(prepared.home, NOBODY_UID, NOBODY_UID)  # as a worker's own scratch directory is its own
        as_nobody = ["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_UID}", "--clear-groups", "--"]
        result = subprocess.run(
            [*as_nobody, *prepared.argv],
            cwd="/",
            pass_fds=prepared.pass_fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=30,
        )
    assert result.stdout.splitlines()[0] == "1000", result.stdout
    assert "Cannot fork" in result.stdout and "started" not in result.stdout


# --- the demo agents ------------------------------------------------------------------------------------------


def test_the_demo_agents_run_in_the_sandbox(sandbox):
    outputs = {}
    for demo in demo_definitions():
        config = demo.agent.get("runner_config", {})
        if "argv" not in config:
            continue
        try:
            outputs[demo.agent["agent_id"]] = run(config)
        except RunnerError as exc:
            outputs[demo.agent["agent_id"]] = exc.reason
    assert outputs["python-version"].startswith("Python 3.")
    assert "deprecated" in outputs["dependency-audit"]
    assert outputs["backup-check"] == "exited with status 2"
    assert "checked disk space: ok" in outputs["heartbeat"]
