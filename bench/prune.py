"""Pruning a million old runs while a gateway serves and a cluster runs councilors: how long, and who waits?

    .venv/bin/python bench/prune.py [--rows 1000000] [--agents 5] [--baseline 40] [--batch-size 1000]
                                    [--throttle 1] [--postgres postgres://postgres@127.0.0.1:5432/]

Creates its own PostgreSQL database (`conductor_bench_prune`, dropped first), inserts `--rows`
finished executions 430-500 days old spread over `--agents` agents (one INSERT … SELECT
generate_series per agent: the server makes the rows), then starts a real daphne gateway and a
real `manage.py run_cluster`. Two phases with the same load:
- baseline (`--baseline` seconds, no prune);
- prune: `manage.py prune_runs` in its own process, until it ends;
and in both, every second one of 20 councilors falls due 0.5 s later (its django-q2 schedule's
next_run set ahead, as the scheduler would), while a client asks the gateway for /healthz every
0.2 s. Reported: the prune's wall time and rows deleted, each phase's scheduled-start delays
(the run's `started_at` minus its due time, written by the worker) and the gateway's response
times. Redis is a private embedded server unless REDIS_URL is set.
"""

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.compare import server  # noqa: E402
from devserver.embedded_redis import start_private_server  # noqa: E402
from devserver.gateway import daphne_argv  # noqa: E402
from tests.processes import stop  # noqa: E402

DATABASE = "conductor_bench_prune"
COUNCILORS = 20
DUE_EVERY_S = 1.0
DUE_AHEAD_S = 0.5
HEALTH_EVERY_S = 0.2


def environment(postgres: str) -> dict[str, str]:
    """A fresh database and the environment every process of the bench shares."""
    import psycopg

    with psycopg.connect(postgres.rstrip("/") + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    os.environ.pop("SECRET_KEY_FILE", None)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "conductor.settings.base",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "REDIS_URL": os.environ.get("REDIS_URL") or start_private_server(),
        "DATABASE_URL": postgres.rstrip("/") + "/" + DATABASE,
        "CHANNEL_PREFIX": f"bench-prune-{uuid.uuid4().hex[:6]}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True)
    import django

    django.setup()
    return env


def column_values(agent_pk: int, agent_id: str) -> dict[str, str]:
    """SQL for each executions column of row `g` of the series: a finished run 430-500 days old."""
    started = "now() - interval '500 days' + g * interval '30 seconds'"
    return {
        "execution_id": f"'exec_{agent_id}_' || g",
        "agent_id": str(agent_pk),
        "run_number": "g",
        "kind": "'agent'",
        "status": "'completed'",
        "severity": "'success'",
        "prompt": "'bench'",
        "output": "'ok'",
        "started_at": started,
        "completed_at": f"{started} + interval '2 seconds'",
        "duration_ms": "2000",
        "attempt": "1",
        "max_attempts": "1",
        "updated_at": "now()",
    }


def insert_old_runs(*, rows: int, agents: int) -> float:
    """`rows` old finished runs over `agents` agents, made by the server; returns the seconds it took."""
    from django.db import connection

    from councilors.models import Execution
    from councilors.services import agent_create

    started = time.monotonic()
    per_agent = rows // agents
    for n in range(agents):
        agent = agent_create(agent_id=f"old-{n}", name=f"Old {n}", runner_config={"argv": ["true"]})
        values = column_values(agent.pk, agent.agent_id)
        columns, expressions = [], []
        for field in Execution._meta.concrete_fields:
            if field.primary_key:
                continue
            if field.column in values:
                expression = values[field.column]
            elif field.null:
                expression = "NULL"
            elif isinstance(field.get_default(), str):
                expression = "''"
            else:
                raise RuntimeError(f"bench/prune.py does not know what to put in {field.column}")
            columns.append(field.column)
            expressions.append(expression)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Execution._meta.db_table} ({', '.join(columns)}) "
                f"SELECT {', '.join(expressions)} FROM generate_series(1, {per_agent}) AS g"
            )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Execution._meta.db_table}")
    return time.monotonic() - started


def make_councilors() -> list:
    from councilors.services import agent_create, councilor_create

    return [
        councilor_create(
            agent=agent_create(agent_id=f"tick-{n}", name=f"Tick {n}", runner_config={"argv": ["true"]}),
            title=f"Tick {n}",
            schedule_value="1h",
            task_name="tick",
            task_prompt="tick",
        )
        for n in range(COUNCILORS)
    ]


class HealthPoller(threading.Thread):
    """Asks the gateway for /healthz every HEALTH_EVERY_S and keeps each answer's time."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.times: list[float] = []
        self.failures = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=30) as response:  # noqa: S310 - our own gateway
                    response.read()
            except OSError:
                self.failures += 1
            self.times.append(time.monotonic() - started)
            self.done.wait(HEALTH_EVERY_S)


def phase(*, councilors: list, port: int, until) -> tuple[list[float], list[float], int]:
    """Councilors fall due one a second until `until()` is true; (start delays, health times, health failures)."""
    from django.db import close_old_connections
    from django.utils import timezone
    from django_q.models import Schedule

    from councilors.models import Execution

    poller = HealthPoller(port)
    poller.start()
    first_due = timezone.now()
    n = 0
    while not until():
        councilor = councilors[n % len(councilors)]
        Schedule.objects.filter(pk=councilor.q_schedule_id).update(
            next_run=timezone.now() + timedelta(seconds=DUE_AHEAD_S)
        )
        n += 1
        time.sleep(DUE_EVERY_S)
    last_due = timezone.now()
    deadline = time.monotonic() + 30
    runs = Execution.objects.filter(scheduled_for__gte=first_due, scheduled_for__lte=last_due)
    while runs.count() < n and time.monotonic() < deadline:
        time.sleep(0.5)
        close_old_connections()
    poller.done.set()
    poller.join()
    delays = [(e.started_at - e.scheduled_for).total_seconds() for e in runs]
    if len(delays) < n:
        print(f"  {n - len(delays)} of {n} due runs did not start within 30 s", flush=True)
    return delays, poller.times, poller.failures


def summary(values: list[float]) -> str:
    if len(values) < 2:
        return f"n={len(values)}"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"n={len(values)}  p50={cuts[49]:.3f}s  p99={cuts[98]:.3f}s  max={max(values):.3f}s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--baseline", type=float, default=40.0, help="seconds of the phase without a prune")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--throttle", default="1", help="prune_runs --throttle (0: no pause between batches)")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/", help="server (no database)")
    args = parser.parse_args()

    env = environment(args.postgres)
    took = insert_old_runs(rows=args.rows, agents=args.agents)
    print(f"inserted {args.rows:,} old runs over {args.agents} agents in {took:.1f}s", flush=True)
    councilors = make_councilors()
    logs = Path(f"/tmp/bench-prune-{os.getpid()}")
    logs.mkdir()
    with ExitStack() as stack:
        _, port = stack.enter_context(
            server(daphne_argv(sys.executable, host="127.0.0.1", port="{port}"), env, PROJECT_DIR, logs / "daphne.log")
        )
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "run_cluster"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=open(logs / "cluster.log", "ab"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
        )
        stack.callback(stop, cluster, timeout=30)
        wait_for_cluster(cluster)

        deadline = time.monotonic() + args.baseline
        delays, health, failed = phase(councilors=councilors, port=port, until=lambda: time.monotonic() > deadline)
        print(f"baseline  start delay {summary(delays)}", flush=True)
        print(f"          gateway /healthz {summary(health)}  failures={failed}", flush=True)

        prune_started = time.monotonic()
        prune = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "prune_runs",
                "--by",
                "bench",
                "--batch-size",
                str(args.batch_size),
                "--throttle",
                args.throttle,
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        delays, health, failed = phase(councilors=councilors, port=port, until=lambda: prune.poll() is not None)
        prune_s = time.monotonic() - prune_started
        output = prune.stdout.read() if prune.stdout else ""
        print(f"prune     {prune_s:.1f}s (exit {prune.returncode}): {output.strip().splitlines()[-1:]}", flush=True)
        print(f"          start delay {summary(delays)}", flush=True)
        print(f"          gateway /healthz {summary(health)}  failures={failed}", flush=True)


def wait_for_cluster(process: subprocess.Popen) -> None:
    from councilors.selectors import worker_clusters_alive

    deadline = time.monotonic() + 60
    while not worker_clusters_alive():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("run_cluster did not start")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
