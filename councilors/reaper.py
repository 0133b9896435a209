"""Closing runs whose worker died: a `running` execution is never left running forever.

docs/scheduling.md, "Councilors on schedule", says when and how soon.

Every `run_cluster` runs `executions_reap_lost` every COUNCILORS_REAPER_INTERVAL_S seconds. Two rules:
- the run's worker (`host:pid`, recorded when it started) is on this host and no longer alive
  (killed -9, OOM-killed, reincarnated after a timeout): found within one reaper interval;
- the run has been `running` longer than the django-q2 worker timeout plus COUNCILORS_LOST_GRACE_S:
  its worker must be gone, even when its whole machine is (no cluster there to check the pid).
"""

import logging
import os
import socket
from datetime import datetime, timedelta

import psutil
from django.db import transaction
from django.utils import timezone
from django_q.conf import Conf

from councilors.app_settings import app_settings
from councilors.models import Execution
from councilors.retries import councilor_run_ended
from councilors.runners.base import CANCELLED
from councilors.services import execution_finish

logger = logging.getLogger(__name__)

WORKER_LOST = "worker lost"
DEFAULT_WORKER_TIMEOUT_S = 900


def worker_label() -> str:
    """`host:pid` of this process, recorded on the runs it starts."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lost_after() -> timedelta:
    """How long a run may stay `running` before it is counted lost whatever else we know."""
    return timedelta(seconds=(Conf.TIMEOUT or DEFAULT_WORKER_TIMEOUT_S) + app_settings.LOST_GRACE_S)


def worker_is_dead(*, worker: str, started_at: datetime, host: str | None = None) -> bool:
    """True when `worker` ran on this host and that process is gone (or its pid now belongs to a newer one)."""
    worker_host, _, pid = worker.rpartition(":")
    if not worker_host or worker_host != (host or socket.gethostname()) or not pid.isdigit():
        return False
    try:
        process = psutil.Process(int(pid))
        # A zombie is dead; a process created after the run started reuses a dead worker's pid.
        return process.status() == psutil.STATUS_ZOMBIE or process.create_time() > started_at.timestamp() + 1
    except psutil.NoSuchProcess:
        return True


def executions_reap_lost(*, now: datetime | None = None) -> list[Execution]:
    """Mark `running` executions whose worker died as `error` ("worker lost"); returns them."""
    now = now or timezone.now()
    too_old = now - lost_after()
    reaped = []
    for execution in Execution.objects.filter(status=Execution.Status.RUNNING).only("pk", "worker", "started_at"):
        if execution.started_at < too_old or worker_is_dead(worker=execution.worker, started_at=execution.started_at):
            finished = execution_mark_lost(execution_pk=execution.pk)
            if finished is not None:
                reaped.append(finished)
    return reaped


def execution_mark_lost(*, execution_pk: int) -> Execution | None:
    """Finish one run as `error` ("worker lost") unless it finished meanwhile; tells everyone as any run end does."""
    with transaction.atomic():
        execution = (
            Execution.objects.select_for_update(of=("self",))
            .select_related("agent", "councilor")
            .filter(pk=execution_pk)
            .first()
        )
        if execution is None or execution.status != Execution.Status.RUNNING:
            return None
        if execution.cancel_requested_at is not None:
            # Someone asked it to stop and its worker died first: it ends as they asked, not as a failure.
            execution = execution_finish(
                execution=execution, output=execution.output, error=CANCELLED, status=Execution.Status.CANCELLED
            )
            return execution
        execution = execution_finish(execution=execution, output=execution.output, error=WORKER_LOST)
    logger.warning("execution %s marked error: %s (%s)", execution.execution_id, WORKER_LOST, execution.worker)
    councilor_run_ended(execution=execution)  # a councilor's lost run is retried like any error
    return execution
