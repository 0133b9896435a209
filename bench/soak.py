"""Soak: hundreds of clients connecting and disconnecting for a long time; nothing may grow.

Run by hand, never by the test suite:

    .venv/bin/python bench/soak.py --start --duration 900          # its own Redis, daphne and worker
    .venv/bin/python bench/soak.py --url ws://127.0.0.1:5006/ws/gamification --duration 900
                                                                   # attach to a running deployment

With `--start` it starts an embedded redis-server, a fresh SQLite database, one daphne and one
django-q2 cluster in a temporary folder and stops them at the end. Attached, it reads
DATABASE_URL / REDIS_URL / CHANNEL_PREFIX from the environment like the project does (so that it
can mint a token, create its councilors and emit events into the same channel layer) and finds
the gateway by the port it listens on (or `--gateway-pid`).

Meanwhile: `--clients` WebSocket clients each stay connected for a random 2-30 s (some leave
without a closing handshake, as a browser tab that is killed does; some `resume` from their last
event id when they come back), `--councilors` councilors run every minute on the worker, and one
`system_alert` is emitted every `--event-interval` seconds. Every `--report-every` seconds it
prints the gateway's RSS and open file descriptors and the Redis key count. The first row after
the warm-up (all clients have connected once) is the baseline; the last rows must not have grown
beyond noise.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import psutil
import redis
from websockets.asyncio.client import connect

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
PYTHON = sys.executable

from devserver.gateway import daphne_argv  # noqa: E402 - after the project is on sys.path

USERNAME = "soak"
COUNCILOR_PREFIX = "soak-councilor-"


@dataclass
class Counters:
    connects: int = 0
    failed_connects: int = 0
    abrupt_closes: int = 0
    resumes: int = 0
    events_received: int = 0
    emitted: int = 0
    emit_failures: int = 0
    unexpected_closes: dict[int | str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The stack: started here (--start) or found (attach)
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


class Stack:
    """Embedded Redis, SQLite, daphne and one run_cluster in a temporary folder."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[subprocess.Popen] = []

    def start(self) -> tuple[str, int]:
        from devserver.embedded_redis import server_argv

        socket_path = self.workdir / "redis.sock"
        redis_proc = self._spawn(server_argv(socket_path=socket_path, workdir=self.workdir), "redis.log")
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.environ.update(
            {
                "DATABASE_URL": f"sqlite:///{self.workdir / 'soak.sqlite3'}",
                "REDIS_URL": f"unix://{socket_path}",
                "CHANNEL_PREFIX": "conductor-soak",
                "DJANGO_SETTINGS_MODULE": "conductor.settings.base",
                # A throwaway stack: a key of its own (DEBUG off refuses to start without one).
                "SECRET_KEY": secrets.token_urlsafe(50),
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "PYTHONUNBUFFERED": "1",
                "GAMIFICATION_WS_MAX_PER_USER": "0",  # every client is the one soak user
            }
        )
        os.environ.pop("SECRET_KEY_FILE", None)
        subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=PROJECT_DIR, check=True)
        subprocess.run([PYTHON, "manage.py", "createcachetable"], cwd=PROJECT_DIR, check=True)
        port = free_port()
        daphne = self._spawn(daphne_argv(PYTHON, host="127.0.0.1", port=port), "daphne.log")
        self._spawn([PYTHON, "manage.py", "run_cluster"], "run_cluster.log")
        wait_for_port(port, daphne)
        assert redis_proc.poll() is None, "redis-server died"
        print(f"started stack in {self.workdir} (logs there): daphne pid {daphne.pid} on port {port}", flush=True)
        return f"ws://127.0.0.1:{port}/ws/gamification", daphne.pid

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.workdir / log_name, "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            argv, cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=os.environ
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):  # the cluster and daphne before Redis
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def gateway_pid_for(url: str) -> int:
    port = urlparse(url).port or 80
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return conn.pid
    raise SystemExit(f"no process listens on port {port}; pass --gateway-pid")


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conductor.settings.base")
    import django

    django.setup()


def prepare_data(*, councilors: int) -> str:
    """The soak user's token, and councilors that run every minute (on the real schedule)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from councilors.models import Agent, Councilor
    from councilors.services import agent_create, councilor_create
    from infrastructure.tokens import token_mint

    user, _ = get_user_model().objects.get_or_create(username=USERNAME, defaults={"is_staff": True})
    for number in range(councilors):
        agent_id = f"{COUNCILOR_PREFIX}{number}"
        if Councilor.objects.filter(agent__agent_id=agent_id).exists():
            continue
        Agent.objects.filter(agent_id=agent_id).delete()
        agent = agent_create(
            agent_id=agent_id,
            name=f"Soak {number}",
            runner=Agent.Runner.COMMAND,
            runner_config={"argv": [PYTHON, "-c", "print('soak ok')"], "timeout": 30},
        )
        councilor_create(
            agent=agent,
            title=f"Soak {number}",
            schedule_type=Councilor.ScheduleType.INTERVAL,
            schedule_value="1m",
            task_name="Soak check",
            task_prompt="Check.",
            notification_channels=["panel"],
        )
    # The longest a token may live (JWT_MAX_TTL_SECONDS); the gateway closes its sockets at expiry.
    return token_mint(user=user, ttl_seconds=settings.JWT_MAX_TTL_SECONDS)


def scheduled_by_django_q(*, councilors: int) -> bool:
    """True when each soak councilor has its django-q2 schedule (councilors.scheduling); else we enqueue."""
    from councilors.models import Councilor

    link = "q_schedule" if hasattr(Councilor, "q_schedule") else "schedule"
    if not hasattr(Councilor, link):
        return False
    soak = Councilor.objects.filter(agent__agent_id__startswith=COUNCILOR_PREFIX, **{f"{link}__isnull": False})
    return soak.count() >= councilors


def run_councilors_now(*, councilors: int) -> None:
    from councilors.audit import Actor
    from councilors.selectors import councilor_get
    from councilors.services import councilor_enqueue

    actor = Actor.of_command("soak")
    for number in range(councilors):
        councilor_enqueue(councilor=councilor_get(councilor_id=f"{COUNCILOR_PREFIX}{number}"), actor=actor)


def execution_counts() -> dict[str, int]:
    from django.db.models import Count

    from councilors.models import Execution

    rows = Execution.objects.filter(agent__agent_id__startswith=COUNCILOR_PREFIX).values("status")
    return {row["status"]: row["n"] for row in rows.annotate(n=Count("pk"))}


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------


async def churning_client(url: str, counters: Counters, stop: asyncio.Event, *, max_life: float) -> None:
    """Connect, listen a random while, leave (sometimes rudely), come back (sometimes resuming)."""
    last_id = 0
    rng = random.Random()
    await asyncio.sleep(rng.uniform(0, 5))  # spread the first connects
    while not stop.is_set():
        try:
            async with connect(url, open_timeout=20, max_size=2**20, ping_interval=None) as ws:
                counters.connects += 1
                connected = json.loads(await asyncio.wait_for(ws.recv(), 20))
                last_id = last_id or int(connected["data"].get("last_id") or 0)
                if last_id and rng.random() < 0.3:
                    await ws.send(json.dumps({"command": "resume", "since": last_id}))
                    counters.resumes += 1
                if rng.random() < 0.2:
                    await ws.send(json.dumps({"command": "ping"}))
                deadline = time.monotonic() + rng.uniform(2, max_life)
                while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
                    except TimeoutError:
                        break
                    if message.get("id"):
                        counters.events_received += 1
                        last_id = max(last_id, int(message["id"]))
                if rng.random() < 0.15:  # a killed tab: the TCP connection just goes away
                    counters.abrupt_closes += 1
                    ws.transport.abort()
        except (OSError, TimeoutError) as exc:
            counters.failed_connects += 1
            print(f"connect failed: {exc!r}", flush=True)
            await asyncio.sleep(1)
        except Exception as exc:  # noqa: BLE001 - a closed connection is counted, the soak carries on
            code = getattr(getattr(exc, "rcvd", None), "code", None) or type(exc).__name__
            counters.unexpected_closes[code] = counters.unexpected_closes.get(code, 0) + 1
            if counters.unexpected_closes[code] <= 3:
                print(f"client: {exc!r}", flush=True)
            await asyncio.sleep(1)
        await asyncio.sleep(rng.uniform(0, 2))


def emitter(counters: Counters, stop: asyncio.Event, interval: float) -> None:
    """One system_alert per interval from this process, through the project's emitter (thread)."""
    from gamification.events import emit

    sequence = 0
    while not stop.is_set():
        sequence += 1
        envelope = emit("system_alert", {"level": "info", "message": f"soak {sequence}", "source": "soak"})
        counters.emitted += 1 if envelope else 0
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


def measure(gateway: psutil.Process, redis_client: redis.Redis, prefix: str) -> dict[str, float]:
    prefixed = sum(1 for _ in redis_client.scan_iter(match=f"{prefix}*", count=1000))
    memory = redis_client.info("memory")
    return {
        "rss_mb": gateway.memory_info().rss / 2**20,
        "fds": gateway.num_fds(),
        "conns": len(gateway.net_connections(kind="tcp")),
        "redis_keys": redis_client.dbsize(),
        "prefixed_keys": prefixed,
        "redis_mb": memory["used_memory"] / 2**20,
    }


def print_row(label: str, elapsed: float, figures: dict[str, float], counters: Counters, status: str = "") -> None:
    print(
        f"{label:<9} {elapsed:7.0f}s  rss {figures['rss_mb']:7.1f} MB  fds {figures['fds']:5d}  "
        f"tcp {figures['conns']:4d}  redis keys {figures['redis_keys']:5d} (prefix {figures['prefixed_keys']:4d}, "
        f"{figures['redis_mb']:.1f} MB)  connects {counters.connects:6d}  events rx {counters.events_received:8d}  "
        f"emitted {counters.emitted:5d} {status}",
        flush=True,
    )


async def soak(args: argparse.Namespace, url: str, gateway_pid: int) -> dict[str, dict[str, float]]:
    from django.conf import settings

    gateway = psutil.Process(gateway_pid)
    redis_client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "")
    counters = Counters()
    stop = asyncio.Event()
    token = await asyncio.to_thread(prepare_data, councilors=args.councilors)
    scheduled = await asyncio.to_thread(scheduled_by_django_q, councilors=args.councilors)
    print(f"councilors: {'django-q2 schedules' if scheduled else 'enqueued by the soak every minute'}", flush=True)
    url = f"{url}?token={token}"
    rows: dict[str, dict[str, float]] = {}
    started = time.monotonic()
    rows["idle"] = measure(gateway, redis_client, prefix)
    print_row("idle", 0, rows["idle"], counters)

    clients = [
        asyncio.create_task(churning_client(url, counters, stop, max_life=args.max_life)) for _ in range(args.clients)
    ]
    loop = asyncio.get_running_loop()
    emit_thread = loop.run_in_executor(None, emitter, counters, stop, args.event_interval)
    next_councilors = time.monotonic()
    next_report = started + args.warmup
    warm = False
    try:
        while (elapsed := time.monotonic() - started) < args.duration:
            if not scheduled and time.monotonic() >= next_councilors:
                await asyncio.to_thread(run_councilors_now, councilors=args.councilors)
                next_councilors += 60
            if time.monotonic() >= next_report:
                figures = await asyncio.to_thread(measure, gateway, redis_client, prefix)
                label = "warm" if not warm else "running"
                rows.setdefault("warm", figures)
                rows["last"] = figures
                warm = True
                runs = await asyncio.to_thread(execution_counts)
                print_row(label, elapsed, figures, counters, f"runs {runs} closes {counters.unexpected_closes}")
                next_report += args.report_every
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*clients, return_exceptions=True)
        await emit_thread
    rows["end"] = await asyncio.to_thread(measure, gateway, redis_client, prefix)
    print_row("end", time.monotonic() - started, rows["end"], counters)
    await asyncio.sleep(args.settle)  # let the gateway notice the last closes
    rows["idle-end"] = await asyncio.to_thread(measure, gateway, redis_client, prefix)
    runs = await asyncio.to_thread(execution_counts)
    print_row("idle-end", time.monotonic() - started, rows["idle-end"], counters, f"runs {runs}")
    print(
        f"connects {counters.connects}, failed {counters.failed_connects}, abrupt {counters.abrupt_closes}, "
        f"resumes {counters.resumes}, unexpected closes {counters.unexpected_closes}",
        flush=True,
    )
    redis_client.close()
    return rows


def summary(rows: dict[str, dict[str, float]]) -> None:
    base, end = rows.get("warm", rows["idle"]), rows.get("last", rows["end"])
    print("\nfigure            warm     last   growth   |  idle   idle-end")
    for key in ("rss_mb", "fds", "redis_keys", "prefixed_keys", "redis_mb"):
        print(
            f"{key:<14} {base[key]:8.1f} {end[key]:8.1f} {end[key] - base[key]:+8.1f}   | "
            f"{rows['idle'][key]:6.1f} {rows['idle-end'][key]:8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", action="store_true", help="start its own Redis, SQLite, daphne and worker")
    parser.add_argument("--url", help="ws://host:port/ws/gamification of a running gateway (attach mode)")
    parser.add_argument("--gateway-pid", type=int, help="the gateway process (default: the one on the URL's port)")
    parser.add_argument("--duration", type=float, default=900, help="seconds (default 900)")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--max-life", type=float, default=30, help="longest a client stays connected (s)")
    parser.add_argument("--councilors", type=int, default=3, help="councilors running every minute")
    parser.add_argument("--event-interval", type=float, default=1.0, help="seconds between emitted events")
    parser.add_argument("--report-every", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the baseline row")
    parser.add_argument("--keep", action="store_true", help="keep the --start folder (logs, database)")
    parser.add_argument("--settle", type=float, default=5, help="seconds after the clients left, before idle-end")
    args = parser.parse_args()
    if not args.start and not args.url:
        parser.error("give --start or --url")

    stack = None
    workdir = Path(tempfile.mkdtemp(prefix="conductor-soak-")) if args.start else None
    try:
        if args.start:
            stack = Stack(workdir)
            url, pid = stack.start()
        else:
            url, pid = args.url, args.gateway_pid or gateway_pid_for(args.url)
        setup_django()
        rows = asyncio.run(soak(args, url, pid))
        summary(rows)
    finally:
        if stack:
            stack.stop()
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
