"""`make run` (devserver.run) for real: a fresh var/ folder, embedded Redis, daphne, a worker, Ctrl+C."""

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from honcho.printer import Message
from websockets.asyncio.client import connect

from councilors.demo import HEARTBEAT_ID
from councilors.runners.sandbox import WORKER_SANDBOXED
from devserver import run as devserver
from devserver.gateway import ACCESS_LOG_ENV, daphne_endpoint
from tests.processes import PROJECT_DIR, free_port, wait_for_port

PY = sys.executable
# "On a fresh clone, make run, then the dashboard: a demo run appears within 90 s without touching anything."
DEMO_RUN_WITHIN_S = 90.0
RUN_ENDED = ("councilor_completed", "councilor_error")


def test_process_table_starts_the_embedded_redis_only_without_redis_url(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert list(devserver.process_table(host="127.0.0.1", port=5006)) == ["redis", "web", "worker", "watchdog"]
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    table = devserver.process_table(host="127.0.0.1", port=5007)
    assert list(table) == ["web", "worker", "watchdog"]
    assert table["web"][-3:] == ["-e", "tcp:port=5007:interface=127.0.0.1:backlog=4096", "conductor.asgi:application"]


def test_daphne_writes_an_access_log_only_when_gateway_access_log_names_one(monkeypatch):
    monkeypatch.delenv(ACCESS_LOG_ENV, raising=False)
    web = devserver.process_table(host="127.0.0.1", port=5006)["web"]
    assert web[3:5] == ["-v", "0"] and "--access-log" not in web  # verbosity 0: no access log
    monkeypatch.setenv(ACCESS_LOG_ENV, "-")
    assert devserver.process_table(host="127.0.0.1", port=5006)["web"][3:5] == ["--access-log", "-"]
    monkeypatch.setenv(ACCESS_LOG_ENV, "/var/log/conductor/access.log")
    web = devserver.process_table(host="127.0.0.1", port=5006)["web"]
    assert web[3:5] == ["--access-log", "/var/log/conductor/access.log"] and "-v" not in web


def test_an_ipv6_host_s_colons_are_escaped_in_the_endpoint():
    assert daphne_endpoint(host="::1", port=5006) == r"tcp:port=5006:interface=\:\:1:backlog=4096"


def test_each_process_has_its_own_log_with_its_name(tmp_path):
    import datetime
    import io

    printer = devserver.TeePrinter(io.StringIO(), log_dir=tmp_path)
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    printer.write(Message(type="line", data=b"listening\nready\n", time=when, name="web", colour=None))
    printer.write(Message(type="line", data="started\n", time=when, name="worker", colour=None))
    assert (tmp_path / "web.log").read_text().splitlines() == [
        "2026-01-02 03:04:05 web | listening",
        "2026-01-02 03:04:05 web | ready",
    ]
    assert (tmp_path / "worker.log").read_text() == "2026-01-02 03:04:05 worker | started\n"
    assert "03:04:05 web | listening" in printer.output.getvalue()


def test_each_log_is_created_0600(tmp_path):
    import datetime
    import io

    previous = os.umask(0)  # the mode comes from the printer itself, whatever the umask
    try:
        printer = devserver.TeePrinter(io.StringIO(), log_dir=tmp_path)
        printer.write(Message(type="line", data="x\n", time=datetime.datetime.now(), name="web", colour=None))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "web.log").stat().st_mode) == 0o600


def test_a_key_is_generated_once_kept_0600_in_var_and_handed_on(tmp_path):
    var, environ = tmp_path / "var", {"PATH": "/bin"}

    path = devserver.provide_secret_key(var, environ)

    assert path == var / "secret-key"
    assert environ == {"PATH": "/bin", "SECRET_KEY_FILE": str(path)}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    key = path.read_text().strip()
    assert len(key) >= 50
    assert devserver.provide_secret_key(var, {}) == path
    assert path.read_text().strip() == key  # the next start keeps it: sessions survive a restart


def test_a_key_named_by_the_environment_is_used_as_it_is(tmp_path):
    for environ in ({"SECRET_KEY": "k" * 50}, {"SECRET_KEY_FILE": "/run/secrets/key"}):
        assert devserver.provide_secret_key(tmp_path / "var", environ) is None
        assert len(environ) == 1
    assert not (tmp_path / "var").exists()


def test_every_listed_log_exists_before_its_process_prints_anything(tmp_path):
    import io

    names = devserver.log_names(devserver.process_table(host="127.0.0.1", port=5006))
    devserver.TeePrinter(io.StringIO(), log_dir=tmp_path, names=names)
    assert names[-2:] == ["watchdog", "system"]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(f"{name}.log" for name in names)
    assert (tmp_path / "watchdog.log").read_text() == ""


def test_the_banner_names_the_dashboard_the_admin_and_each_log(tmp_path):
    lines = devserver.banner_lines(
        site="http://127.0.0.1:5006", login=["log in as 'admin'"], log_dir=tmp_path, logs=["web", "watchdog"]
    )
    assert "  Conductor dashboard: http://127.0.0.1:5006/" in lines
    assert "  Conductor admin: http://127.0.0.1:5006/admin/" in lines
    assert f"  logs: {tmp_path}/{{web,watchdog}}.log" in lines
    assert lines.index("  Conductor dashboard: http://127.0.0.1:5006/") < lines.index("  log in as 'admin'")


def test_procgroup_signals_the_command_alone_then_clears_its_group(tmp_path):
    pids = tmp_path / "pids"
    # The command's child would die on a group-wide SIGTERM; the command records that it got one itself.
    script = (
        "import os, signal, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids)!r}, 'w').write(str(child.pid))\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('got SIGTERM', flush=True), sys.exit(0)))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [PY, "-m", "devserver.procgroup", PY, "-c", script], cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert process.stdout.read() == "got SIGTERM\n"
        assert (
            not psutil.pid_exists(int(pids.read_text())) or psutil.Process(int(pids.read_text())).status() == "zombie"
        )
    finally:
        if process.poll() is None:
            process.kill()


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


async def _first_heartbeat_end(url: str, *, deadline: float) -> dict:
    """The envelope of the heartbeat's first finished run: replayed from the history (since=0) or live."""
    async with connect(url) as ws:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.monotonic())))
            if message["type"] in RUN_ENDED and message["data"]["councilor_id"] == HEARTBEAT_ID:
                return message


@pytest.mark.slow
def test_make_run_serves_the_admin_runs_the_demo_and_stops_on_ctrl_c(tmp_path):
    var = tmp_path / "var"
    port = free_port()
    # A fresh clone with nothing set: no database, Redis or key of the tests'.
    unset = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SECRET_KEY_FILE")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env.update(
        DJANGO_SETTINGS_MODULE="conductor.settings.base",
        CONDUCTOR_VAR_DIR=str(var),
        PORT=str(port),
        PYTHONUNBUFFERED="1",
        CHANNEL_PREFIX=f"conductor-devserver-test-{port}",
    )
    console = tmp_path / "console.log"
    started_at, started = time.time(), time.monotonic()
    with open(console, "wb") as out:
        server = subprocess.Popen([PY, "-m", "devserver"], cwd=PROJECT_DIR, env=env, stdout=out, stderr=out)
    children: list[psutil.Process] = []
    try:
        wait_for_port(port, server, timeout=90)
        children = _descendants(server.pid)
        login = httpx.get(f"http://127.0.0.1:{port}/admin/login/", timeout=10)
        assert login.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/static/admin/css/base.css", timeout=10).status_code == 200

        password = (var / "admin-password.txt").read_text().strip()
        text = console.read_text()
        assert f"Conductor dashboard: http://127.0.0.1:{port}/" in text
        assert f"Conductor admin: http://127.0.0.1:{port}/admin/" in text
        assert f"log in as 'admin' with password {password!r}" in text
        for name in ("redis", "web", "worker", "watchdog", "system"):
            assert (var / "log" / f"{name}.log").exists(), f"{name}.log is listed in the banner"
        assert f"logs: {var / 'log'}/{{redis,web,worker,watchdog,system}}.log" in text

        key_file = var / "secret-key"
        assert f"export SECRET_KEY_FILE={key_file}" in text  # how to run manage.py beside it
        command_env = {**env, "DJANGO_SETTINGS_MODULE": "conductor.settings.base", "SECRET_KEY_FILE": str(key_file)}
        # Nothing touched yet: the demo's heartbeat runs by itself, and the dashboard hears of it.
        token = subprocess.run(
            [PY, "manage.py", "ws_token", "admin"], cwd=PROJECT_DIR, env=command_env, capture_output=True, text=True
        ).stdout.strip()
        url = f"ws://127.0.0.1:{port}/ws/gamification?token={token}&since=0"
        ended = asyncio.run(_first_heartbeat_end(url, deadline=started + DEMO_RUN_WITHIN_S))
        assert ended["type"] == "councilor_completed"
        assert ended["data"]["severity"] in ("success", "warning")
        assert ended["timestamp"] - started_at <= DEMO_RUN_WITHIN_S
        expected = {"python-version": "severity success", "dependency-audit": "severity warning"}
        for councilor_id, severity in {**expected, "backup-check": "severity error"}.items():
            result = subprocess.run(
                [PY, "manage.py", "run_councilor", councilor_id, "--wait", "--timeout", "60"],
                cwd=PROJECT_DIR,
                env=command_env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert severity in result.stdout, (result.stdout, result.stderr)
            assert result.returncode == (1 if councilor_id == "backup-check" else 0)
        assert "web | " in (var / "log" / "web.log").read_text()
        assert "worker | " in (var / "log" / "worker.log").read_text()
        # The demo's runs went through the sandbox (bubblewrap works here): nothing to tell at start.
        assert WORKER_SANDBOXED in (var / "log" / "worker.log").read_text()
        assert "apt-get install bubblewrap" not in text
        assert "redis | " in (var / "log" / "redis.log").read_text()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            returncode = server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
        finally:
            leftovers = [child for child in children if child.is_running() and child.status() != "zombie"]
            for child in leftovers:
                child.kill()
    assert returncode == 0, console.read_text()[-3000:]
    assert leftovers == []
    assert "Processed 'councilors.tasks.run_councilor_task'" in (var / "log" / "worker.log").read_text()
    assert Path(var / "db.sqlite3").exists()
    # Password hashes, sessions, the key, the admin password, logs: nothing under var/ is open to others.
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    # (var/static/ excepted: collectstatic's files are served to anyone anyway.)
    open_to_others = {
        str(path.relative_to(var))
        for path in var.rglob("*")
        if path.stat().st_mode & 0o077 and path.relative_to(var).parts[0] != "static"
    }
    assert open_to_others == set()
    for private in ("secret-key", "db.sqlite3", "admin-password.txt", "log/web.log", "log/worker.log"):
        assert stat.S_IMODE((var / private).stat().st_mode) == 0o600, private
