"""Many councilors on schedule: how many runs a minute one or two clusters keep on time, and what a run costs.

    .venv/bin/python bench/runs.py                                   # the default set (about 14 minutes)
    .venv/bin/python bench/runs.py --councilors 1000 --databases postgres --clusters 2
    .venv/bin/python bench/runs.py --councilors 20 --databases sqlite --clusters 1 --minutes 0.25 --quiet 10 50

For each database (a temporary SQLite file; PostgreSQL at --postgres-url, a scratch database this
script creates and drops), each count of councilors N and each count of clusters C, it:

- creates N councilors whose agents run `["true"]` (the command runner; the sandbox as
  --sandbox says, `none` by default so that bubblewrap's cost, measured by bench/sandbox.py, does
  not hide the rest), each due every minute, their due times spread evenly over the minute;
- starts C real `manage.py run_cluster` processes (Q_WORKERS=--workers each), lets --minutes
  minutes of due times pass, waits up to --grace seconds for the backlog, and stops them;
- reports runs/s, the scheduled-start delay (`started_at - scheduled_for`) p50/p99/max, runs not
  started by the end, worker CPU per run (every process of the clusters but the main one, child
  processes included), the main processes' (the scheduler tick's) CPU per run, and database
  queries per run (all processes, counted by bench/runs_support.py).

Then, per database: the scheduler's CPU per quiet tick (councilors/scheduling.py's
`scheduler_tick` with none due) with each of --quiet councilor counts, and stock django-q2's
cost for the equivalent work: `manage.py qcluster` (same Q_CLUSTER) executing tasks queued with
`async_task`, each running `["true"]` and saving a row (bench/runs_support.py), CPU and queries
per task — --baseline tasks queued at once, and around each configuration (half of --baseline-seconds
just before it, half just after, pooled; --baseline-min-tasks tasks at the least), tasks queued at
that configuration's rate (N a minute) on as many clusters: the equivalent load, whose polls and
heartbeats are shared by as many tasks a second as ours, measured on the machine as it was during
ours. The per-run ratios are
ours over stock's: the clusters' CPU (the tick apart), then with what queues the runs on each side
(our tick; stock's `async_task` calls, their CPU in this process).

--profile DIR writes cProfile files: each worker's tasks (worker-<pid>.prof) and one due
scheduler pass (scheduler-due.prof); `python -m pstats DIR/worker-*.prof` reads them.
"""

import argparse
import functools
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/conductor_bench_runs"
# The default set: the sizes on PostgreSQL with one and two clusters, and on SQLite with one.
DEFAULT_SET = (("postgres", 1), ("postgres", 2), ("sqlite", 1))
SLOT_S = 60.0  # every councilor is due once a minute
START_MARGIN_S = 3.0  # the first due time, after the clusters are up
RESULTS_SEEDED = 1000  # django-q2's stored results in a deployment that has run a while
# The CPU that queues the runs, apart from the cluster's: our run_cluster's main process (the
# scheduler's tick) and, for stock django-q2, the `async_task` calls of this process that stand for
# whatever would queue its tasks (their CPU only, without the pacing's sleeps).
QUEUEING_ROLES = ("main", "async_task")


@dataclass
class Figures:
    label: str
    due: int
    delays: list[float] = field(default_factory=list)
    runs_per_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by role (tree_cpu)
    queries: int = 0
    skipped: int = 0

    def line(self) -> str:
        started = len(self.delays)
        if not started:
            return f"{self.label}: nothing ran (of {self.due} due)"
        cuts = statistics.quantiles(self.delays, n=100, method="inclusive") if started > 1 else self.delays * 99
        return (
            f"{self.label}: {started}/{self.due} started, {self.runs_per_s:.1f} runs/s;"
            f" start delay p50 {cuts[49]:.2f} s, p99 {cuts[98]:.2f} s, max {max(self.delays):.2f} s;"
            f" cluster CPU {1000 * self.cluster_cpu_s / started:.1f} ms/run"
            f" ({', '.join(f'{role} {1000 * s / started:.2f}' for role, s in self.cpu.items())});"
            f" {self.queries / started:.1f} queries/run; {self.skipped} skipped"
        )

    def pooled(self, other: "Figures", *, label: str) -> "Figures":
        """This measurement and `other` of the same thing as one: their runs, CPU and queries summed."""
        return Figures(
            label=label,
            due=self.due + other.due,
            delays=self.delays + other.delays,
            runs_per_s=(self.runs_per_s + other.runs_per_s) / 2,
            cpu={role: self.cpu.get(role, 0.0) + other.cpu.get(role, 0.0) for role in self.cpu | other.cpu},
            queries=self.queries + other.queries,
            skipped=self.skipped + other.skipped,
        )

    @property
    def cluster_cpu_s(self) -> float:
        """Every process of the clusters but the main one (the tick, measured apart)."""
        return sum(s for role, s in self.cpu.items() if role not in QUEUEING_ROLES)

    @property
    def queueing_cpu_s(self) -> float:
        """What put the runs in the queue: our clusters' tick, or stock's callers' `async_task`."""
        return sum(s for role, s in self.cpu.items() if role in QUEUEING_ROLES)


def configure(*, database_url: str, workdir: Path, sandbox: str, workers: int) -> dict[str, str]:
    """Point this process and the ones it starts at `database_url`; migrate it; return their environment."""
    from devserver.embedded_redis import start_private_server

    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL") or start_private_server()
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "bench.runs_settings",
            # DEBUG off, as in production: with it on, Django keeps and formats every query.
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),  # nothing is served or kept: a throwaway key
            "CHANNEL_PREFIX": f"conductor-bench-runs-{os.getpid()}",
            "LOG_LEVEL": "WARNING",
            "COUNCILORS_SANDBOX": sandbox,
            "Q_WORKERS": str(workers),
            "BENCH_QUERY_DIR": str(workdir / "queries"),
            "CONDUCTOR_VAR_DIR": str(workdir / "var"),
        }
    )
    (workdir / "queries").mkdir(exist_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    return os.environ.copy()


def reset_database() -> None:
    """An empty database but for what a deployment that has run a while holds: 1,000 task results."""
    import uuid

    from django.core.management import call_command
    from django.db import close_old_connections
    from django.utils import timezone
    from django_q.models import Task

    close_old_connections()
    call_command("flush", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    old = timezone.now() - timedelta(days=1)
    Task.objects.bulk_create(
        Task(id=uuid.uuid4().hex, name=f"old {n}", func="bench", started=old, stopped=old, success=True)
        for n in range(RESULTS_SEEDED)
    )


def make_councilors(count: int) -> list[int]:
    """`count` enabled councilors running `["true"]` every minute, their schedules not yet due; returns schedule pks."""
    from django.db import transaction
    from django_q.models import Schedule

    from councilors.models import Agent, Councilor
    from councilors.scheduling import DUE_TIME_KWARG, RUN_TASK, schedule_spec
    from councilors.services import agent_create, councilor_create

    # The first through the services (validation), the others copied from it in bulk.
    model = councilor_create(
        agent=agent_create(agent_id="bench-0", name="Bench 0", runner_config={"argv": ["true"]}),
        title="Bench 0",
        schedule_value="1m",
        task_name="bench",
        task_prompt="bench",
    )
    far = model.q_schedule.next_run + timedelta(days=1)
    with transaction.atomic():
        Schedule.objects.filter(pk=model.q_schedule_id).update(next_run=far)
        agents = Agent.objects.bulk_create(
            Agent(agent_id=f"bench-{n}", name=f"Bench {n}", runner_config={"argv": ["true"]}) for n in range(1, count)
        )
        councilors = Councilor.objects.bulk_create(
            Councilor(agent=agent, title=agent.name, schedule_value="1m", task_name="bench", task_prompt="bench")
            for agent in agents
        )
        spec = schedule_spec(councilor=model)
        schedules = Schedule.objects.bulk_create(
            Schedule(
                func=RUN_TASK,
                args=repr(councilor.pk),
                intended_date_kwarg=DUE_TIME_KWARG,
                repeats=-1,
                next_run=far,
                name=f"Councilor {councilor.title}",
                **spec,
            )
            for councilor in councilors
        )
        for councilor, schedule in zip(councilors, schedules, strict=True):
            councilor.q_schedule = schedule
        Councilor.objects.bulk_update(councilors, ["q_schedule"], batch_size=500)
    return [model.q_schedule_id, *(schedule.pk for schedule in schedules)]


def make_due(schedule_pks: list[int], *, start: Any, slots: int, spread: float = SLOT_S) -> None:
    """Spread the schedules' first due times evenly over `spread` seconds from `start`; each fires `slots` times."""
    from django.db import transaction
    from django_q.models import Schedule

    count = len(schedule_pks)
    with transaction.atomic():
        rows = list(Schedule.objects.filter(pk__in=schedule_pks))
        for n, schedule in enumerate(sorted(rows, key=lambda s: s.pk)):
            # Off any whole second, so that due times land at every phase of a tick.
            schedule.next_run = start + timedelta(seconds=spread * n / count + (0.137 * n) % 1 / count)
            schedule.repeats = slots
        Schedule.objects.bulk_update(rows, ["next_run", "repeats"], batch_size=500)


@contextmanager
def clusters(argv: list[str], count: int, env: dict[str, str], log_dir: Path):
    """`count` cluster processes (each in a session of its own); stopped with SIGTERM, then waited for."""
    processes = []
    try:
        for n in range(count):
            log = open(log_dir / f"cluster-{n}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
            processes.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", *argv],
                    cwd=PROJECT_DIR,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        wait_for_clusters(processes, int(env["Q_WORKERS"]))
        yield processes
    finally:
        # SIGTERM to the main process only, as an operator stops a cluster: it stops its own children.
        # Sent to the whole group, stock qcluster's sentinel and workers die at once (they keep the
        # default SIGTERM action) and its main process then waited out this wait's timeout, a minute
        # per stock measurement.
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"cluster {process.pid} did not stop within 30 s of SIGTERM: killed", flush=True)
        for process in processes:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever of the group is left
            process.wait()


def wait_for_clusters(processes: list[subprocess.Popen], workers: int) -> None:
    """Until each process's cluster is whole: its sentinel, the workers, monitor and pusher started,
    and the sentinel's heartbeat stored.

    Counting heartbeats alone is not enough: a cluster stopped just before leaves one for a few
    seconds, and the figures would then start before these clusters had finished starting (their
    start-up CPU counted as the runs', their processes missing from `process_roles`).
    """
    from django.db import close_old_connections

    from councilors.selectors import worker_cluster_stats

    deadline = time.monotonic() + 120
    while True:
        close_old_connections()
        sentinels = [child for process in processes for child in psutil.Process(process.pid).children()]
        beating = {stat.sentinel for stat in worker_cluster_stats()}
        if len(sentinels) == len(processes) and all(
            sentinel.pid in beating and len(sentinel.children()) >= workers + 2 for sentinel in sentinels
        ):
            return
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            raise RuntimeError("a cluster did not start; see its log")
        time.sleep(0.2)


def process_roles(processes: list[subprocess.Popen]) -> dict[int, str]:
    """pid -> role of each cluster's processes as started: main (the tick), pusher, monitor, workers.

    django-q2's Sentinel starts the workers, then the monitor, then the pusher (spawn_cluster);
    any process not named here is a worker (or a worker's child).
    """
    roles = {}
    for process in processes:
        roles[process.pid] = "main"
        for sentinel in psutil.Process(process.pid).children():
            # Its guard loop is light; its reaped children are workers recycled after Q_CLUSTER's
            # `recycle` tasks, so it counts with the workers.
            roles[sentinel.pid] = "workers"
            started = sorted(sentinel.children(), key=lambda child: (child.create_time(), child.pid))
            if len(started) >= 3:
                roles[started[-2].pid], roles[started[-1].pid] = "monitor", "pusher"
    return roles


def tree_cpu(processes: list[subprocess.Popen], roles: dict[int, str]) -> dict[str, float]:
    """CPU seconds so far of the clusters' processes by role (process_roles; the rest are workers).

    A process's own time plus that of its children it has reaped (a worker's `true`; a worker
    recycled by the sentinel), so that nothing that ran in between is missed or counted twice.
    """
    cpu = dict.fromkeys(("main", "pusher", "monitor", "workers"), 0.0)
    for process in processes:
        try:
            root = psutil.Process(process.pid)
            times = root.cpu_times()
            cpu["main"] += times.user + times.system
            for child in root.children(recursive=True):
                try:
                    t = child.cpu_times()
                except psutil.NoSuchProcess:
                    continue  # gone between the listing and the read: its parent's children times hold it
                cpu[roles.get(child.pid, "workers")] += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return cpu


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {role: after[role] - before[role] for role in before}


def queries_so_far(workdir: Path) -> int:
    return sum(int(path.read_bytes() or 0) for path in (workdir / "queries").iterdir())


def due_times(minutes: float) -> int:
    """How many times each councilor is due in `minutes` (once, for a quick check under a minute)."""
    return max(1, round(minutes))


def due_window(minutes: float) -> float:
    """The seconds the due times of `minutes` span: whole minutes, or (a quick check, under a
    minute) every councilor's one due time packed into that time."""
    return SLOT_S * due_times(minutes) if minutes >= 1 else SLOT_S * minutes


def due_rate(count: int, minutes: float) -> float:
    """Runs due a second with `count` councilors over `minutes`: the rate stock is fed at."""
    return count * due_times(minutes) / due_window(minutes)


def measure_schedule(
    *, label: str, count: int, cluster_count: int, minutes: float, grace: float, env: dict[str, str], workdir: Path
) -> Figures:
    """One configuration: `count` councilors every minute for `minutes`, on `cluster_count` clusters."""
    from django.db import close_old_connections
    from django.utils import timezone

    from councilors.models import Execution, SkippedRun

    reset_database()
    schedule_pks = make_councilors(count)
    slots = due_times(minutes)
    window = due_window(minutes)
    figures = Figures(label=label, due=count * slots)
    with clusters(["run_cluster"], cluster_count, env, workdir) as processes:
        roles = process_roles(processes)
        cpu_0 = tree_cpu(processes, roles)
        queries_0 = queries_so_far(workdir)
        start = timezone.now() + timedelta(seconds=START_MARGIN_S)
        make_due(schedule_pks, start=start, slots=slots, spread=min(SLOT_S, window))
        end = start + timedelta(seconds=window)
        deadline = time.monotonic() + START_MARGIN_S + window + grace
        scheduled = Execution.objects.filter(scheduled_for__lt=end, completed_at__isnull=False)
        while time.monotonic() < deadline:
            time.sleep(1.0)
            close_old_connections()
            if timezone.now() > end and scheduled.count() >= figures.due:
                break
        figures.cpu = cpu_delta(cpu_0, tree_cpu(processes, roles))
        figures.queries = queries_so_far(workdir) - queries_0
    close_old_connections()
    runs = list(scheduled.values_list("scheduled_for", "started_at", "completed_at"))
    figures.delays = [(started - due).total_seconds() for due, started, _ in runs]
    if runs:
        span = (max(r[2] for r in runs) - min(r[1] for r in runs)).total_seconds()
        figures.runs_per_s = len(runs) / span if span > 0 else float("nan")
    figures.skipped = SkippedRun.objects.count()
    return figures


def analyze_schedules() -> None:
    """Statistics of the schedule table, as PostgreSQL's autovacuum gathers them within a minute of a bulk
    insert: without them the planner, knowing nothing of the rows just made, scans the table instead of
    using the `next_run` index (councilors/migrations/0009). SQLite's planner needs none."""
    from django.db import connection
    from django_q.models import Schedule

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Schedule._meta.db_table)}")


def measure_quiet_tick(counts: list[int], ticks: int) -> list[str]:
    """The scheduler's CPU (and wall time) per tick with N councilors of which none is due."""
    from django.db import close_old_connections
    from django_q.brokers import get_broker

    from councilors.scheduling import scheduler_tick

    broker = get_broker()
    lines = []
    for count in counts:
        reset_database()
        make_councilors(count)
        analyze_schedules()
        close_old_connections()
        scheduler_tick(broker=broker)  # warm: imports, the connection
        cpu_0, wall_0 = time.process_time(), time.perf_counter()
        for _ in range(ticks):
            assert not scheduler_tick(broker=broker), "a schedule was due during the quiet measurement"
        cpu, wall = time.process_time() - cpu_0, time.perf_counter() - wall_0
        lines.append(
            f"quiet tick, {count} councilors none due: scheduler CPU {1e6 * cpu / ticks:.0f} µs/tick,"
            f" wall {1e6 * wall / ticks:.0f} µs/tick ({ticks} ticks)"
        )
    return lines


def profile_due_pass(count: int, profile_dir: Path) -> str:
    """cProfile one scheduler pass that finds `count` schedules due (it queues their tasks)."""
    import cProfile

    from django.db import close_old_connections
    from django.utils import timezone
    from django_q.brokers import get_broker
    from django_q.models import OrmQ

    from councilors.scheduling import scheduler_tick

    reset_database()
    pks = make_councilors(count)
    make_due(pks, start=timezone.now() - timedelta(seconds=SLOT_S + 1), slots=1)
    close_old_connections()
    profile = cProfile.Profile()
    cpu_0 = time.process_time()
    profile.runcall(scheduler_tick, broker=get_broker())
    cpu = time.process_time() - cpu_0
    profile.dump_stats(profile_dir / "scheduler-due.prof")
    queued = OrmQ.objects.count()
    return f"one due scheduler pass (profiled), {count} due: {1000 * cpu / count:.2f} ms CPU per run ({queued} queued)"


def measure_baseline(
    *, tasks: int, env: dict[str, str], workdir: Path, cluster_count: int = 1, rate: float = 0.0
) -> Figures:
    """Stock django-q2 (`qcluster`, same Q_CLUSTER): `tasks` async_tasks running `true` and saving a row.

    With `rate` 0 they are queued at once (a burst); otherwise one every 1/`rate` seconds, as a
    schedule of that many runs a second would hand them out, on `cluster_count` clusters: the
    clusters' polls and heartbeats are then shared by as many tasks a second as our runs share
    theirs with, which is the equivalent work.
    """
    from django.db import close_old_connections, connection
    from django_q.tasks import async_task

    from bench.runs_support import BASELINE_TABLE

    reset_database()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} (n integer, at double precision)")
        cursor.execute(f"DELETE FROM {BASELINE_TABLE}")
    pace = f"{rate:.1f} a second on {cluster_count} cluster{'s' * (cluster_count > 1)}" if rate else "all at once"
    figures = Figures(label=f"stock django-q2 qcluster, async_task running true + a row, queued {pace}", due=tasks)
    with clusters(["qcluster"], cluster_count, env, workdir) as processes:
        roles = process_roles(processes)
        cpu_0 = tree_cpu(processes, roles)
        queries_0 = queries_so_far(workdir)
        enqueue_queries = tasks  # one INSERT into the ORM queue per async_task, counted in this process
        t0, queueing = time.time(), 0.0
        for n in range(tasks):
            if rate:
                time.sleep(max(0.0, t0 + n / rate - time.time()))
            cpu_before = time.process_time()
            async_task("bench.runs_support.baseline_task", n)
            queueing += time.process_time() - cpu_before
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            time.sleep(0.5)
            close_old_connections()
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*), max(at) FROM {BASELINE_TABLE}")
                done, last = cursor.fetchone()
            if done >= tasks:
                break
        figures.cpu = cpu_delta(cpu_0, tree_cpu(processes, roles)) | {"async_task": queueing}
        figures.queries = queries_so_far(workdir) - queries_0 + enqueue_queries
    figures.delays = [0.0] * done
    figures.runs_per_s = done / (last - t0) if last else 0.0
    return figures


def database_url(kind: str, postgres_url: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir}/bench.sqlite3"
    return postgres_url


@contextmanager
def scratch_postgres(url: str):
    """Create the scratch database `url` names (dropped afterwards); refuses one that already exists."""
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_database(kind: str, plan: list[tuple[int, int]], args: argparse.Namespace) -> None:
    """Every measurement on one database, in a child process of its own (Django is set up once per process)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"conductor-runs-{kind}-"))
    with ExitStack() as stack:
        if kind == "postgres":
            stack.enter_context(scratch_postgres(args.postgres_url))
        env = configure(
            database_url=database_url(kind, args.postgres_url, workdir),
            workdir=workdir,
            sandbox=args.sandbox,
            workers=args.workers,
        )
        print(f"== {kind}: {args.workers} workers per cluster, sandbox {args.sandbox}; logs in {workdir}", flush=True)
        if args.profile:
            profile_dir = Path(args.profile).resolve()
            profile_dir.mkdir(parents=True, exist_ok=True)
            print(profile_due_pass(max(count for count, _ in plan), profile_dir), flush=True)
            env["BENCH_PROFILE_DIR"] = str(profile_dir)
        for line in measure_quiet_tick(args.quiet, args.quiet_ticks):
            print(line, flush=True)
        baseline = measure_baseline(tasks=args.baseline, env=env, workdir=workdir) if args.baseline else None
        if baseline:
            print(baseline.line(), flush=True)
        for count, cluster_count in plan:
            label = f"{kind}, {count} councilors every minute, {cluster_count} cluster{'s' * (cluster_count > 1)}"
            rate = due_rate(count, args.minutes)
            stock_at_rate = functools.partial(
                measure_baseline,
                tasks=max(args.baseline_min_tasks // 2, round(rate * args.baseline_seconds / 2)),
                env=env,
                workdir=workdir,
                cluster_count=cluster_count,
                rate=rate,
            )
            # Stock is measured on both sides of ours, half its time each: the machine's speed drifts
            # over minutes, and a sample on one side only would compare two different machines.
            stock_before = stock_at_rate() if args.baseline_seconds else None
            figures = measure_schedule(
                label=label,
                count=count,
                cluster_count=cluster_count,
                minutes=args.minutes,
                grace=args.grace,
                env=env,
                workdir=workdir,
            )
            print(figures.line(), flush=True)
            if not (stock_before and figures.delays):
                continue
            paced = stock_before.pooled(stock_at_rate(), label=f"{stock_before.label}, before and after ours")
            print(f"  {paced.line()}", flush=True)
            ours = figures.cluster_cpu_s / len(figures.delays)
            ours_queued = (figures.cluster_cpu_s + figures.queueing_cpu_s) / len(figures.delays)
            for name, stock in (("at the same rate", paced), ("queued at once", baseline)):
                if stock and stock.delays:
                    per_task = stock.cluster_cpu_s / len(stock.delays)
                    per_task_queued = (stock.cluster_cpu_s + stock.queueing_cpu_s) / len(stock.delays)
                    print(
                        f"  per-run cluster CPU vs stock django-q2 {name}: {ours / per_task:.2f}x;"
                        f" with the queueing (our tick, stock's async_task): {ours_queued / per_task_queued:.2f}x",
                        flush=True,
                    )
    shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--councilors", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--databases", nargs="+", choices=("postgres", "sqlite"), help="default: postgres and sqlite")
    parser.add_argument("--clusters", type=int, nargs="+", help="default: 1 and 2 on PostgreSQL, 1 on SQLite")
    parser.add_argument("--minutes", type=float, default=1.0, help="minutes of due times per configuration")
    parser.add_argument("--grace", type=float, default=20.0, help="seconds to wait for the backlog after them")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="Q_WORKERS per cluster")
    parser.add_argument("--sandbox", default="none", choices=("none", "bwrap"), help="COUNCILORS_SANDBOX")
    parser.add_argument("--quiet", type=int, nargs="+", default=[10, 5000], help="councilors for the quiet tick")
    parser.add_argument("--quiet-ticks", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=300, help="stock django-q2 tasks queued at once (0: none)")
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=10.0,
        help="stock django-q2 fed at each configuration's rate on as many clusters this long, half before it"
        " and half after (0: not)",
    )
    parser.add_argument(
        "--baseline-min-tasks",
        type=int,
        default=40,
        help="stock's tasks at each configuration's rate, at the least: CPU times come in 10 ms ticks per"
        " process, so a sample of a few tasks (at 100 a minute, 10 s hold 17) is mostly rounding",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="a scratch database, created and dropped")
    parser.add_argument("--profile", metavar="DIR", help="write cProfile files of the workers and a scheduler pass")
    parser.add_argument("--database-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    databases = args.databases or ["postgres", "sqlite"]
    if args.database_child:
        kind = args.database_child
        cluster_counts = args.clusters or [c for k, c in DEFAULT_SET if k == kind]
        run_database(kind, [(n, c) for n in args.councilors for c in cluster_counts], args)
        return
    print(f"{psutil.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    for kind in databases:
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--database-child", kind], check=True)


if __name__ == "__main__":
    main()
