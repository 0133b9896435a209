"""Helpers for tests that run councilors on real `qcluster` processes."""

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import psutil
from django.db import close_old_connections
from django.utils import timezone
from django_q.models import Schedule

from councilors.models import Councilor
from tests.processes import manage

T = TypeVar("T")
CLUSTER_START_TIMEOUT_S = 60.0


def eventually(probe: Callable[[], T], *, timeout: float = 30.0, every: float = 0.1, what: str = "") -> T:
    """Poll the shared database until `probe` returns something truthy (the cluster is another process)."""
    deadline = time.monotonic() + timeout
    while True:
        close_old_connections()
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true after {timeout}s: {what or probe}")
        time.sleep(every)


def live_clusters() -> int:
    """Clusters with a heartbeat whose sentinel process is alive.

    `worker_clusters_alive` (what the product asks) also counts, for up to its 3 s expiry, the
    heartbeat of a cluster an earlier test just stopped: waiting on it, a test could go on before
    its own cluster is up and then find none.
    """
    from councilors.selectors import worker_cluster_stats

    return sum(1 for stat in worker_cluster_stats() if psutil.pid_exists(stat.sentinel))


@contextmanager
def qclusters(count: int = 1, *, log_dir: Path, **env: str) -> Iterator[None]:
    """`count` real `manage.py qcluster` processes, up (heartbeats seen) before the body runs."""
    with ExitStack() as stack:
        for number in range(count):
            stack.enter_context(manage("run_cluster", log_path=log_dir / f"qcluster-{number}.log", **env))
        eventually(lambda: live_clusters() >= count, timeout=CLUSTER_START_TIMEOUT_S, what="clusters up")
        yield


def make_due(councilor: Councilor, *, ago: timedelta = timedelta(seconds=1)) -> datetime:
    """Test-only shortcut: the councilor's schedule falls due now instead of in a minute; returns the due time."""
    councilor.refresh_from_db()
    due = timezone.now() - ago
    Schedule.objects.filter(pk=councilor.q_schedule_id).update(next_run=due)
    return due
