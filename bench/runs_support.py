"""What bench/runs.py needs inside the processes it starts: a query counter, a worker profiler, the baseline task.

`bench.runs_settings` (the settings module of every process bench/runs.py starts) calls
`install()`. Each process then writes its running count of database queries to
`$BENCH_QUERY_DIR/<pid>` (one small overwrite per query, a few microseconds against a query's
hundreds), which the benchmark sums by process. With `$BENCH_PROFILE_DIR` set, each worker also
profiles the tasks it runs (cProfile, from django-q2's pre_execute to post_execute_in_worker signal) and
writes `worker-<pid>.prof` every few tasks.
"""

import cProfile
import os
import subprocess
import time

BASELINE_TABLE = "bench_baseline_row"
PROFILE_DUMP_EVERY = 20


class QueryCounter:
    """Counts this process's queries; the total is kept in a file named after the process."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.pid = 0
        self.fd = -1
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        if self.pid != os.getpid():  # a forked child starts its own count
            self.pid, self.count = os.getpid(), 0
            self.fd = os.open(os.path.join(self.directory, str(self.pid)), os.O_WRONLY | os.O_CREAT, 0o600)
        self.count += 1
        os.pwrite(self.fd, b"%12d" % self.count, 0)
        return execute(sql, params, many, context)


class TaskProfiler:
    """One cProfile per worker process, on only while a task runs; it counts CPU time, not wall time."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.profile: cProfile.Profile | None = None
        self.pid = 0
        self.tasks = 0

    def start(self, **kwargs) -> None:
        if self.pid != os.getpid():
            self.pid, self.tasks, self.profile = os.getpid(), 0, cProfile.Profile(time.process_time)
        assert self.profile is not None
        self.profile.enable()

    def stop(self, **kwargs) -> None:
        if self.profile is None or self.pid != os.getpid():
            return
        self.profile.disable()
        self.tasks += 1
        if self.tasks % PROFILE_DUMP_EVERY == 0:
            self.profile.dump_stats(os.path.join(self.directory, f"worker-{self.pid}.prof"))


def install() -> None:
    """Hook the counter (and the profiler) in as the environment asks; nothing without it.

    Both are attached when a process opens its first connection: the apps are loaded by then
    (django_q.signals imports models, which a settings module cannot).
    """
    query_dir, profile_dir = os.environ.get("BENCH_QUERY_DIR"), os.environ.get("BENCH_PROFILE_DIR")
    if not query_dir and not profile_dir:
        return
    from django.db.backends.signals import connection_created

    counter = QueryCounter(query_dir) if query_dir else None
    profiler = TaskProfiler(profile_dir) if profile_dir else None

    def attach(sender, connection, **kwargs) -> None:
        if counter is not None and counter not in connection.execute_wrappers:
            connection.execute_wrappers.append(counter)
        if profiler is not None:
            from django_q.signals import post_execute_in_worker, pre_execute

            pre_execute.connect(profiler.start, weak=False, dispatch_uid="bench-profile-start")
            post_execute_in_worker.connect(profiler.stop, weak=False, dispatch_uid="bench-profile-stop")

    connection_created.connect(attach, weak=False)


def baseline_task(n: int) -> int:
    """Stock django-q2's equivalent of a trivial run: `true` as a child process, then one row saved."""
    from django.db import connection

    subprocess.run(["true"], check=True, stdin=subprocess.DEVNULL, capture_output=True)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {BASELINE_TABLE} (n, at) VALUES (%s, %s)", [n, time.time()])
    return n
