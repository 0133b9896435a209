"""Retries of a councilor's failed runs (docs/scheduling.md, "Retries").

A councilor run that ends in `error` or `timed_out` (never `cancelled`: someone meant it to stop)
is tried again up to `max_retries` more times. Attempt n+1 waits `retry_backoff_s × 2^(n−1)`
seconds, jittered by ±RETRY_JITTER so that councilors failing together do not retry together, and
capped by COUNCILORS_RETRY_BACKOFF_MAX_S. The wait is a one-off django-q2 Schedule in the database,
so a retry survives a worker or cluster restart; each attempt is its own Execution, numbered
`attempt` of `max_attempts` and pointing at the chain's first one. The councilor's notification and
failure-streak alert go out once, for the chain's final outcome (councilors.notifications).
"""

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule

from councilors.app_settings import app_settings
from councilors.models import Councilor, Execution
from councilors.notifications import councilor_run_notify

logger = logging.getLogger(__name__)

RETRY_TASK = "councilors.tasks.run_councilor_retry_task"
# ±25 %: wide enough to spread a burst of failures, narrow enough that "about 30 s" stays true.
RETRY_JITTER = 0.25
RETRIED_STATUSES = (Execution.Status.ERROR, Execution.Status.TIMED_OUT)
RETRY_SCHEDULE_NAME = "Retry {councilor_id}: attempt {attempt} of {max_attempts} ({first})"
SCHEDULE_NAME_MAX = 100


@dataclass(frozen=True)
class Retry:
    """Which attempt a run is: the n-th of `max_attempts`, in the chain that `first_attempt_pk` began."""

    first_attempt_pk: int
    attempt: int
    max_attempts: int


def retry_delay_s(*, base_s: float, retry: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before the `retry`-th retry: base × 2^(retry−1), ±RETRY_JITTER, at most RETRY_BACKOFF_MAX_S."""
    doubled = base_s * 2 ** (retry - 1)
    jittered = doubled * (1 + RETRY_JITTER * (2 * rng() - 1))
    return max(0.0, min(jittered, app_settings.RETRY_BACKOFF_MAX_S))


def retry_wanted(execution: Execution) -> bool:
    """Whether this finished councilor run gets another attempt."""
    return (
        execution.councilor_id is not None
        and execution.status in RETRIED_STATUSES
        and execution.attempt < execution.max_attempts
    )


def next_attempt(execution: Execution) -> Retry:
    """The attempt that follows `execution` in its chain."""
    return Retry(
        first_attempt_pk=execution.first_attempt_id or execution.pk,
        attempt=execution.attempt + 1,
        max_attempts=execution.max_attempts,
    )


def councilor_retry_schedule(
    *, execution: Execution, now: datetime | None = None, rng: Callable[[], float] = random.random
) -> Schedule | None:
    """Queue the next attempt of a failed councilor run after its backoff; None when none is due."""
    if not retry_wanted(execution):
        return None
    retry = next_attempt(execution)
    councilor: Councilor = execution.councilor
    delay = retry_delay_s(base_s=councilor.retry_backoff_s, retry=execution.attempt, rng=rng)
    name = RETRY_SCHEDULE_NAME.format(
        councilor_id=councilor.councilor_id,
        attempt=retry.attempt,
        max_attempts=retry.max_attempts,
        first=retry.first_attempt_pk,
    )
    schedule = Schedule.objects.create(
        name=name[:SCHEDULE_NAME_MAX],
        func=RETRY_TASK,
        args=repr((councilor.pk, retry.first_attempt_pk, retry.attempt, retry.max_attempts)),
        schedule_type=Schedule.ONCE,
        repeats=-1,  # django-q2 deletes a one-off schedule with negative repeats once it has queued it
        next_run=(now or timezone.now()) + timedelta(seconds=delay),
    )
    logger.info("%s: attempt %s of %s in %.1fs", execution.execution_id, retry.attempt, retry.max_attempts, delay)
    return schedule


def councilor_run_ended(*, execution: Execution) -> Execution:
    """After a councilor run ends: queue its retry if one is due, else notify for the final outcome."""
    retried = False
    if retry_wanted(execution):  # most runs: no transaction to open (on SQLite, a write lock taken for nothing)
        with transaction.atomic():
            retried = councilor_retry_schedule(execution=execution) is not None
    if not retried:
        councilor_run_notify(execution=execution)
    return execution


def retry_abandoned(*, retry: Retry) -> None:
    """A retry that did not start (paused, overlapping): the attempt before it is the final outcome."""
    previous = (
        Execution.objects.select_related("agent", "councilor").filter(_chain(retry), attempt=retry.attempt - 1).first()
    )
    if previous is not None:
        councilor_run_notify(execution=previous)


def _chain(retry: Retry) -> Q:
    """Every attempt of the chain `retry` belongs to (the first one and those pointing at it)."""
    return Q(pk=retry.first_attempt_pk) | Q(first_attempt_id=retry.first_attempt_pk)
