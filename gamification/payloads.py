"""Typed builders of event payloads: every emitter builds its events here, so each shape is written once.

Each builder returns an `Event` (type, data) for `emit(*event)` / `aemit(*event)`; the data is the
catalogue's TypedDict (gamification/catalogue.py), timestamps as ISO 8601 strings
(infrastructure.timestamps.iso_utc: UTC, milliseconds, `Z`).
"""

from datetime import datetime
from typing import Any, NamedTuple

from gamification.catalogue import (
    AgentExecutionCompleted,
    AgentExecutionStarted,
    AgentMetrics,
    AgentMetricsUpdated,
    AlertLevel,
    CouncilorCompleted,
    CouncilorError,
    CouncilorRunQueued,
    CouncilorStarted,
    CouncilorToggled,
    Severity,
    SystemAlert,
)
from infrastructure.timestamps import iso_utc

# The statuses of a run that ended without doing its work: their events carry `error` and severity `error`.
FAILED_STATUSES = ("error", "cancelled", "timed_out")


class Event(NamedTuple):
    type: str
    data: dict[str, Any]
    # The pk of the user who asked for the run (its private details are theirs); None: nobody did.
    requester: int | None = None


class Run(NamedTuple):
    """One run as the run events describe it, whoever started it.

    A run is modelled once (councilors/services.py builds this from an execution); which of the two
    event families goes on the wire is decided here, at the edge: a councilor's run is told as
    `councilor_*` events (with its task and title), any other as `agent_execution_*` (with the
    caller's instance id). The seed's clients know both families.
    """

    execution_id: str
    agent_id: str
    agent_name: str
    emoji: str
    started_at: datetime
    run_number: int
    attempt: int = 1
    max_attempts: int = 1
    # A councilor's run: its task and title. None: an agent run (the API's execute, run now).
    councilor_task: tuple[str, str] | None = None
    instance_id: str = ""
    # The pk of the user who asked for it (its private details are theirs); None: nobody did.
    requester: int | None = None


class RunEnd(NamedTuple):
    """How a finished run went, as every "run ended" event reports it."""

    status: str  # completed | error | cancelled | timed_out
    severity: Severity
    completed_at: datetime
    duration_ms: int
    error: str = ""
    cancelled_by: str = ""


def _numbers(run: Run) -> dict[str, int]:
    return {"run_number": run.run_number, "attempt": run.attempt, "max_attempts": run.max_attempts}


def run_started(run: Run) -> Event:
    """`councilor_started` for a councilor's run, `agent_execution_started` for any other."""
    if run.councilor_task is not None:
        task_name, title = run.councilor_task
        started = CouncilorStarted(
            councilor_id=run.agent_id,
            task_name=task_name,
            display_name=title,
            execution_id=run.execution_id,
            started_at=iso_utc(run.started_at),
            emoji=run.emoji,
        )
        return Event("councilor_started", {**started, **_numbers(run)})
    data = AgentExecutionStarted(
        agent_id=run.agent_id,
        agent_name=run.agent_name,
        instance_id=run.instance_id,
        execution_id=run.execution_id,
        started_at=iso_utc(run.started_at),
        emoji=run.emoji,
    )
    return Event("agent_execution_started", {**data, **_numbers(run)}, run.requester)


def run_finished(run: Run, end: RunEnd) -> Event:
    """A councilor's run: `councilor_error` when it failed, timed out or was cancelled (`status` says which),
    else `councilor_completed`; any other run: `agent_execution_completed`."""
    started_at, completed_at = iso_utc(run.started_at), iso_utc(end.completed_at)
    failed = end.status in FAILED_STATUSES
    extra: dict[str, Any] = {"cancelled_by": end.cancelled_by} if end.cancelled_by else {}
    if run.councilor_task is not None:
        task_name, title = run.councilor_task
        if failed:
            error = CouncilorError(
                councilor_id=run.agent_id,
                task_name=task_name,
                display_name=title,
                execution_id=run.execution_id,
                status=end.status,  # type: ignore[typeddict-item]  # one of FAILED_STATUSES
                severity="error",
                error=end.error,
                started_at=started_at,
                completed_at=completed_at,
                duration_ms=end.duration_ms,
                emoji=run.emoji,
            )
            return Event("councilor_error", {**error, **extra, **_numbers(run)}, run.requester)
        completed = CouncilorCompleted(
            councilor_id=run.agent_id,
            task_name=task_name,
            display_name=title,
            execution_id=run.execution_id,
            status="completed",
            severity=end.severity,
            started_at=started_at,
            completed_at=completed_at,
            duration_ms=end.duration_ms,
            emoji=run.emoji,
        )
        return Event("councilor_completed", {**completed, **_numbers(run)}, run.requester)
    data = AgentExecutionCompleted(
        agent_id=run.agent_id,
        agent_name=run.agent_name,
        instance_id=run.instance_id,
        execution_id=run.execution_id,
        status=end.status if failed else "completed",  # type: ignore[typeddict-item]  # FAILED_STATUSES or completed
        severity=end.severity,
        started_at=started_at,
        completed_at=completed_at,
        duration_ms=end.duration_ms,
        emoji=run.emoji,
    )
    if end.error:
        extra["error"] = end.error
    return Event("agent_execution_completed", {**data, **extra, **_numbers(run)}, run.requester)


def agent_metrics_updated(*, agent_id: str, metrics: AgentMetrics) -> Event:
    return Event("agent_metrics_updated", dict(AgentMetricsUpdated(agent_id=agent_id, metrics=metrics)))


def system_alert(*, level: AlertLevel, message: str, source: str, details: dict[str, Any] | None = None) -> Event:
    data = SystemAlert(level=level, message=message, source=source)
    if details is not None:
        data["details"] = details
    return Event("system_alert", dict(data))


def councilor_paused(*, councilor_id: str, by: str) -> Event:
    return Event("councilor_paused", dict(CouncilorToggled(councilor_id=councilor_id, success=True, by=by)))


def councilor_resumed(*, councilor_id: str, by: str) -> Event:
    return Event("councilor_resumed", dict(CouncilorToggled(councilor_id=councilor_id, success=True, by=by)))


def councilor_run_queued(*, councilor_id: str, execution_id: str) -> Event:
    data = CouncilorRunQueued(councilor_id=councilor_id, execution_id=execution_id)
    return Event("councilor_run_queued", dict(data))
