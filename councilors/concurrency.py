"""Concurrency caps: runs over a cap wait as `queued` instead of holding a worker (docs/scheduling.md).

Two caps, both checked by the worker that receives a run, under locks, as one step with the start:
- per agent, `Agent.max_concurrent` runs `running` at once across the deployment (its row lock);
- per worker cluster, COUNCILORS_MAX_CONCURRENT_RUNS runs `running` on that cluster's workers (the
  workers are the children of one django-q2 Sentinel process: a cluster is `host:sentinel pid`;
  a PostgreSQL advisory lock per cluster, SQLite's IMMEDIATE transactions serialize anyway).
A run over a cap is recorded `queued` and its worker returns. When a run ends, its worker asks
(under the same locks, so a run queued meanwhile is seen) whether a queued run waits, and if so
queues one `start_queued_run_task`; that task, on whichever worker takes it, claims the oldest
queued run there is room for, exactly once across clusters (row locks, `skip_locked`), and runs it.
Each `run_cluster` also looks every COUNCILORS_REAPER_INTERVAL_S (a run whose worker died, a cap
raised by an admin: places freed without a run ending).
"""

import os
import socket
import zlib

import psutil
from django.db import connection
from django.db.models import QuerySet

from councilors.app_settings import app_settings
from councilors.models import Agent, Execution, agent_row_lock

START_TASK = "councilors.tasks.start_queued_run_task"
# How many of the oldest queued runs a claim looks through for one whose agent has room.
CLAIM_SCAN = 50
# PostgreSQL advisory locks take a 64-bit key; ours are this namespace plus a hash of the cluster.
LOCK_NAMESPACE = 0x5155_0000_0000


def cluster_key(pid: int | None = None) -> str:
    """`host:pid` of the cluster's Sentinel process: the parent of the worker `pid` (default: this process)."""
    process = psutil.Process(pid or os.getpid())
    parent = process.parent()
    return f"{socket.gethostname()}:{parent.pid if parent else process.pid}"


def cluster_workers(key: str) -> list[str]:
    """The `host:pid` labels of a cluster's processes on this host (runs record their worker so)."""
    host, _, pid = key.rpartition(":")
    try:
        children = psutil.Process(int(pid)).children()
    except (psutil.NoSuchProcess, ValueError):
        return []
    return [f"{host}:{child.pid}" for child in children]


def _capped_cluster(worker: str) -> str:
    """The cluster key of a worker's run under a cluster cap; "" without a cap or a worker (nothing to lock)."""
    return cluster_key() if worker and app_settings.MAX_CONCURRENT_RUNS > 0 else ""


def _cluster_lock(key: str) -> None:
    """Serialize "count, then start or queue" within one cluster until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_NAMESPACE + zlib.crc32(key.encode())])


def _agent_lock(agent_pk: int) -> Agent | None:
    """The agent's cap, its row locked; None when the agent is gone."""
    row = agent_row_lock(agent_pk)
    return None if row is None else Agent(pk=agent_pk, max_concurrent=row[0])


def _running() -> QuerySet[Execution]:
    return Execution.objects.filter(status=Execution.Status.RUNNING)


def cluster_has_room(*, key: str) -> bool:
    """Whether this cluster runs fewer than COUNCILORS_MAX_CONCURRENT_RUNS runs (always, without a cap)."""
    cap = app_settings.MAX_CONCURRENT_RUNS
    return cap <= 0 or _running().filter(worker__in=cluster_workers(key)).count() < cap


def agent_has_room(agent: Agent) -> bool:
    """Whether the agent runs fewer than its `max_concurrent` runs (always, without one)."""
    cap = agent.max_concurrent
    return cap is None or _running().filter(agent_id=agent.pk).count() < cap


def run_admitted(*, agent: Agent, worker: str) -> bool:
    """Whether a run of `agent` may start now on `worker` (call inside the transaction that starts or queues it).

    Takes the cluster's lock, then the agent's row lock, in that order everywhere (no deadlock).
    A run with no worker (a command's in-process run) answers to the agent's cap only.
    """
    key = _capped_cluster(worker)
    if not key and agent.max_concurrent is None:
        # No cap applies (the agent as its caller read it, in this transaction): nothing to lock or
        # count, and no query; a cap an admin sets this instant applies from the next run.
        return True
    if key:
        _cluster_lock(key)
    locked = _agent_lock(agent.pk)
    if locked is None or not agent_has_room(locked):
        return False
    return not key or cluster_has_room(key=key)


def queued_claim(*, worker: str) -> Execution | None:
    """The oldest queued run there is room for, row-locked for the caller to start; None when none fits.

    Call inside a transaction; runs another cluster is claiming are skipped, not waited for.
    """
    key = _capped_cluster(worker)
    if key:
        _cluster_lock(key)
        if not cluster_has_room(key=key):
            return None
    waiting = Execution.objects.filter(status=Execution.Status.QUEUED, cancel_requested_at__isnull=True)
    for pk, agent_pk in waiting.order_by("started_at", "pk").values_list("pk", "agent_id")[:CLAIM_SCAN]:
        locked = _agent_lock(agent_pk)
        if locked is None or not agent_has_room(locked):
            continue
        # One row locked at a time (a run another cluster is claiming is skipped, not waited for),
        # and read again under its lock: a cancel may have finished it since.
        claimed = (
            waiting.select_for_update(skip_locked=True, of=("self",)).select_related("agent", "councilor").filter(pk=pk)
        ).first()
        if claimed is not None:
            return claimed
    return None


def queued_may_wait(*, agent: Agent, worker: str) -> bool:
    """After a run of `agent` ended: whether a cap applies whose place it freed (outside any lock).

    `agent.max_concurrent` is the cap as the run's finish read it (`execution_finish`). No cluster cap
    and no cap on the agent then: a run queued behind another agent's cap gains nothing from this end,
    and none of this agent's can be queued behind this run (it ended before any later admission
    counted it); one queued under a cap set or lifted since is the periodic look's (`queued_runs_look`).
    """
    return bool(_capped_cluster(worker)) or agent.max_concurrent is not None


def queued_waiting(*, agent: Agent, worker: str) -> bool:
    """After a run of `agent` ended: whether a queued run waits (read under the admission locks)."""
    key = _capped_cluster(worker)
    if key:
        _cluster_lock(key)
    _agent_lock(agent.pk)
    return Execution.objects.filter(status=Execution.Status.QUEUED).exists()


def queue_place(execution: Execution) -> int | None:
    """1 for the queued run that starts next, 2 for the one after…; None for a run not queued."""
    if execution.status != Execution.Status.QUEUED:
        return None
    ahead = Execution.objects.filter(status=Execution.Status.QUEUED, started_at__lt=execution.started_at).count()
    ties = Execution.objects.filter(
        status=Execution.Status.QUEUED, started_at=execution.started_at, pk__lt=execution.pk
    ).count()
    return ahead + ties + 1


def queued_runs_look() -> bool:
    """Each cluster's periodic look: queued runs wait that no ending run may start (a lost worker, a cap raised).

    Queues one start task per look while any wait; a task that finds no room just returns, so a
    queue held by its caps costs one tiny task per cluster and COUNCILORS_REAPER_INTERVAL_S.
    """
    from django_q.tasks import async_task

    if not Execution.objects.filter(status=Execution.Status.QUEUED, cancel_requested_at__isnull=True).exists():
        return False
    async_task(START_TASK)
    return True
