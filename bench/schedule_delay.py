"""How late do scheduled councilors start? Conductor's tick against stock django-q2, in one run.

    .venv/bin/python bench/schedule_delay.py [--runs 40] [--window 60] [--database-url URL]

For each mode it starts a real `manage.py run_cluster` (`--tick 0.5`, then `--tick 0` = stock
django-q2, whose guard loop runs the scheduler about every 30 s) on a scratch database, gives
`--runs` councilors due times spread over `--window` seconds, and measures each run's start
delay: the execution's `started_at` (written by the worker) minus its due time. Prints p50/p99/max.
Without --database-url it uses a temporary SQLite file; Redis is a private embedded server unless
REDIS_URL is set. A PostgreSQL URL must name a scratch database: its tables are flushed.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

MODES = (("conductor tick 0.5 s", "0.5"), ("stock django-q2", "0"))


def configure(database_url: str) -> None:
    from devserver.embedded_redis import start_private_server

    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("REDIS_URL", os.environ.get("REDIS_URL") or start_private_server())
    os.environ["DJANGO_SETTINGS_MODULE"] = "conductor.settings.base"
    os.environ.setdefault("CHANNEL_PREFIX", f"conductor-bench-{os.getpid()}")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_councilors(count: int) -> list:
    from councilors.models import Agent
    from councilors.services import agent_create, councilor_create

    Agent.objects.all().delete()
    # An hourly schedule: each councilor falls due once during the measurement.
    return [
        councilor_create(
            agent=agent_create(agent_id=f"bench-{n}", name=f"Bench {n}", runner_config={"argv": ["true"]}),
            title=f"Bench {n}",
            schedule_value="1h",
            task_name="bench",
            task_prompt="bench",
        )
        for n in range(count)
    ]


def wait_for_cluster(process: subprocess.Popen) -> None:
    from councilors.selectors import worker_clusters_alive

    deadline = time.monotonic() + 60
    while not worker_clusters_alive():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("run_cluster did not start")
        time.sleep(0.2)


def measure(*, tick: str, runs: int, window: float) -> list[float]:
    """Start delays in seconds of `runs` councilors due across `window` seconds."""
    from django.db import close_old_connections
    from django.utils import timezone
    from django_q.models import OrmQ, Schedule

    from councilors.models import Execution

    councilors = make_councilors(runs)
    OrmQ.objects.all().delete()
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "run_cluster", "--tick", tick],
        cwd=PROJECT_DIR,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_cluster(cluster)
        start = timezone.now() + timedelta(seconds=2)
        for n, councilor in enumerate(councilors):
            # Due times spread evenly, off any whole second, so they land at every phase of a poll.
            due = start + timedelta(seconds=window * n / runs + 0.137 * n % 1)
            Schedule.objects.filter(pk=councilor.q_schedule_id).update(next_run=due)
        deadline = time.monotonic() + window + 60
        while Execution.objects.exclude(scheduled_for=None).count() < runs and time.monotonic() < deadline:
            time.sleep(0.5)
            close_old_connections()
        executions = Execution.objects.exclude(scheduled_for=None)
        return [(e.started_at - e.scheduled_for).total_seconds() for e in executions]
    finally:
        cluster.terminate()
        cluster.wait(timeout=30)


def summary(delays: list[float]) -> str:
    cuts = statistics.quantiles(delays, n=100, method="inclusive")
    return f"n={len(delays)}  p50={cuts[49]:.2f}s  p99={cuts[98]:.2f}s  max={max(delays):.2f}s  min={min(delays):.2f}s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="scheduled runs per mode (at least 30)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the due times are spread")
    parser.add_argument("--database-url", default="", help="scratch database (default: a temporary SQLite file)")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="conductor-bench-")
    configure(args.database_url or f"sqlite:///{scratch}/bench.sqlite3")
    for label, tick in MODES:
        delays = measure(tick=tick, runs=args.runs, window=args.window)
        print(f"{label:22s} {summary(delays)}", flush=True)


if __name__ == "__main__":
    main()
