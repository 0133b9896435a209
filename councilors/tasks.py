"""django-q2 task functions: thin wrappers that look the objects up and call the run service."""

from django.utils.dateparse import parse_datetime

from councilors.audit import Actor
from councilors.cancellation import execution_ended_before_start
from councilors.models import ActionRecord, Agent, Execution
from councilors.reaper import worker_label
from councilors.retention import executions_prune
from councilors.retries import Retry
from councilors.selectors import councilor_get, user_find
from councilors.services import (
    agent_run,
    councilor_run_guarded,
    execution_run_started,
    queued_run_start,
    queued_runs_kick_after,
)

NOTHING_QUEUED = "no queued run fits"

# Who the action record names for the daily prune.
PRUNE_ACTOR = "daily prune"


def run_councilor_task(councilor_id: str, execution_id: str | None = None, requested_by_id: int | None = None) -> str:
    """Worker entry point for one run asked for by hand; returns the execution id (or why it was skipped)."""
    ended = execution_ended_before_start(execution_id=execution_id)
    if ended is not None and ended.status == Execution.Status.CANCELLED:
        return ended.execution_id  # cancelled while it waited in the queue: nothing to run
    # (A redelivered task whose run did end is the run guard's: it records the repeat as skipped.)
    councilor = councilor_get(councilor_id=councilor_id)
    outcome = councilor_run_guarded(
        councilor_pk=councilor.pk,
        execution_id=execution_id,
        worker=worker_label(),
        requested_by=user_find(user_id=requested_by_id),
    )
    queued_runs_kick_after(outcome=outcome)
    return str(getattr(outcome, "execution_id", outcome))


def run_scheduled_councilor_task(councilor_pk: int, scheduled_for: str | None = None) -> str:
    """Worker entry point for a scheduled run; django-q2 passes the due time as `scheduled_for`."""
    outcome = councilor_run_guarded(
        councilor_pk=councilor_pk,
        scheduled_for=parse_datetime(scheduled_for) if scheduled_for else None,
        worker=worker_label(),
    )
    queued_runs_kick_after(outcome=outcome)
    return str(getattr(outcome, "execution_id", outcome))


def run_councilor_retry_task(councilor_pk: int, first_attempt_pk: int, attempt: int, max_attempts: int) -> str:
    """Worker entry point for a retry (a one-off schedule of councilors.retries); returns the execution id."""
    outcome = councilor_run_guarded(
        councilor_pk=councilor_pk,
        worker=worker_label(),
        retry=Retry(first_attempt_pk=first_attempt_pk, attempt=attempt, max_attempts=max_attempts),
    )
    queued_runs_kick_after(outcome=outcome)
    return str(getattr(outcome, "execution_id", outcome))


def run_agent_task(
    agent_id: str,
    prompt: str,
    instance_id: str = "",
    execution_id: str | None = None,
    requested_by_id: int | None = None,
) -> str:
    """Worker entry point for one agent run (the HTTP API's execute); returns the execution id."""
    if ended := execution_ended_before_start(execution_id=execution_id):
        return ended.execution_id  # cancelled while it waited in the queue: nothing to run
    agent = Agent.objects.get(agent_id=agent_id)
    execution = agent_run(
        agent=agent,
        prompt=prompt,
        instance_id=instance_id,
        execution_id=execution_id,
        worker=worker_label(),
        requested_by=user_find(user_id=requested_by_id),
    )
    queued_runs_kick_after(outcome=execution)
    return execution.execution_id


def start_queued_run_task() -> str:
    """Worker entry point when a place may have freed: start and run the oldest queued run that fits."""
    execution = queued_run_start(worker=worker_label())
    if execution is None:
        return NOTHING_QUEUED
    queued_runs_kick_after(outcome=execution_run_started(execution=execution))
    return execution.execution_id


def prune_runs_task() -> int:
    """The daily prune (councilors/retention.py); returns how many runs were deleted."""
    return executions_prune(actor=Actor(user=None, name=PRUNE_ACTOR, source=ActionRecord.Source.SCHEDULE)).total
