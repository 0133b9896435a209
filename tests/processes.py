"""Real processes for tests: daphne, run_cluster and friends on free ports, stopped afterwards."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from devserver.gateway import daphne_argv

PROJECT_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """A URL for the database the tests use (the test database, not the configured one)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "") + "@" if db.get("USER") else ""
    return f"postgres://{auth}{host}:{port}/{db['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    """Environment for a child process that shares this test's database, Redis and channel prefix."""
    # A browser test may set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright's loop in the test process;
    # the servers it starts must keep Django's async-safety checks.
    # The key goes as SECRET_KEY (the test settings' own, or the content of the SECRET_KEY_FILE they read).
    dropped = ("DJANGO_ALLOW_ASYNC_UNSAFE", "SECRET_KEY_FILE")
    inherited = {name: value for name, value in os.environ.items() if name not in dropped}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "conductor.settings.base",
        "SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def stop(process: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


ASGI_APP = "conductor.asgi:application"
# websockets-sansio: its `send` waits while the socket's write buffer is full (backpressure for the outbox).
UVICORN_ARGS = ("--ws", "websockets-sansio", "--ws-per-message-deflate", "false", "--lifespan", "off")
UVICORN_ARGS += ("--no-access-log",)


@contextmanager
def _server(argv: list[str], *, port: int, log_path: Path | None, env: dict[str, str]):
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(argv, cwd=PROJECT_DIR, env=process_env(**env), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process)
        yield process, port
    finally:
        stop(process)
        if log_path:
            log.close()


@contextmanager
def daphne(
    *, port: int | None = None, log_path: Path | None = None, module: str = "daphne", **env: str
) -> Iterator[tuple[subprocess.Popen, int]]:
    """A real daphne serving the project's ASGI application on 127.0.0.1:<port>.

    `module`: what `python -m` runs, daphne itself or a test's wrapper around it.
    """
    port = port or free_port()
    argv = daphne_argv(PYTHON, host="127.0.0.1", port=port)
    argv[argv.index("daphne")] = module
    with _server(argv, port=port, log_path=log_path, env=env) as running:
        yield running


@contextmanager
def uvicorn(
    *, port: int | None = None, log_path: Path | None = None, **env: str
) -> Iterator[tuple[subprocess.Popen, int]]:
    """A real uvicorn serving the same ASGI application (the README's production alternative)."""
    port = port or free_port()
    argv = [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), *UVICORN_ARGS, ASGI_APP]
    with _server(argv, port=port, log_path=log_path, env=env) as running:
        yield running


SERVERS = {"daphne": daphne, "uvicorn": uvicorn}


@contextmanager
def manage(*args: str, log_path: Path | None = None, **env: str) -> Iterator[subprocess.Popen]:
    """A long-running `manage.py` command (e.g. run_cluster), stopped on exit."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [PYTHON, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=process_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        # SIGTERM to the command alone: signalled as a group, the cluster's forked workers get it too
        # and the cluster hangs until killed. The group is killed afterwards for anything left over.
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if log_path:
            log.close()


@contextmanager
def python_module(module: str, *args: str, log_path: Path | None = None, **env: str) -> Iterator[subprocess.Popen]:
    """`python -m <module> <args>` with the tests' database, Redis and channel prefix; stopped on exit."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [PYTHON, "-m", module, *args], cwd=PROJECT_DIR, env=process_env(**env), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        stop(process)
        if log_path:
            log.close()
