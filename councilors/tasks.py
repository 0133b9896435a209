"""django-q2 task functions: thin wrappers that look the objects up and call the run service."""

from django.utils.dateparse import parse_datetime

from councilors.audit import Actor
from councilors.models import ActionRecord, Agent
from councilors.reaper import worker_label
from councilors.retention import executions_prune
from councilors.selectors import councilor_get, user_find
from councilors.services import agent_run, councilor_run_guarded

# Who the action record names for the daily prune.
PRUNE_ACTOR = "daily prune"


def run_councilor_task(councilor_id: str, execution_id: str | None = None, requested_by_id: int | None = None) -> str:
    """Worker entry point for one run asked for by hand; returns the execution id (or why it was skipped)."""
    councilor = councilor_get(councilor_id=councilor_id)
    outcome = councilor_run_guarded(
        councilor_pk=councilor.pk,
        execution_id=execution_id,
        worker=worker_label(),
        requested_by=user_find(user_id=requested_by_id),
    )
    return str(getattr(outcome, "execution_id", outcome))


def run_scheduled_councilor_task(councilor_pk: int, scheduled_for: str | None = None) -> str:
    """Worker entry point for a scheduled run; django-q2 passes the due time as `scheduled_for`."""
    outcome = councilor_run_guarded(
        councilor_pk=councilor_pk,
        scheduled_for=parse_datetime(scheduled_for) if scheduled_for else None,
        worker=worker_label(),
    )
    return str(getattr(outcome, "execution_id", outcome))


def run_agent_task(
    agent_id: str,
    prompt: str,
    instance_id: str = "",
    execution_id: str | None = None,
    requested_by_id: int | None = None,
) -> str:
    """Worker entry point for one agent run (the HTTP API's execute); returns the execution id."""
    agent = Agent.objects.get(agent_id=agent_id)
    execution = agent_run(
        agent=agent,
        prompt=prompt,
        instance_id=instance_id,
        execution_id=execution_id,
        worker=worker_label(),
        requested_by=user_find(user_id=requested_by_id),
    )
    return execution.execution_id


def prune_runs_task() -> int:
    """The daily prune (councilors/retention.py); returns how many runs were deleted."""
    return executions_prune(actor=Actor(user=None, name=PRUNE_ACTOR, source=ActionRecord.Source.SCHEDULE)).total
