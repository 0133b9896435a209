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


class RunNumbers(NamedTuple):
    """Which run this is, for people: `Heartbeat #128`, attempt 2 of 3."""

    run_number: int
    attempt: int = 1
    max_attempts: int = 1

    def fields(self) -> dict[str, int]:
        return {"run_number": self.run_number, "attempt": self.attempt, "max_attempts": self.max_attempts}


def _numbered(data: dict[str, Any], numbers: RunNumbers | None) -> dict[str, Any]:
    return {**data, **numbers.fields()} if numbers is not None else data


class RunTimes(NamedTuple):
    """How a finished run went, as every "run ended" event reports it."""

    execution_id: str
    status: str  # completed | error | cancelled | timed_out
    severity: Severity
    started_at: datetime
    completed_at: datetime
    duration_ms: int


def councilor_started(
    *,
    councilor_id: str,
    task_name: str,
    display_name: str,
    execution_id: str,
    started_at: datetime,
    emoji: str,
    numbers: RunNumbers | None = None,
) -> Event:
    data = CouncilorStarted(
        councilor_id=councilor_id,
        task_name=task_name,
        display_name=display_name,
        execution_id=execution_id,
        started_at=iso_utc(started_at),
        emoji=emoji,
    )
    return Event("councilor_started", _numbered(dict(data), numbers))


def councilor_finished(
    *,
    councilor_id: str,
    task_name: str,
    display_name: str,
    run: RunTimes,
    error: str,
    emoji: str,
    requester: int | None = None,
    numbers: RunNumbers | None = None,
    cancelled_by: str = "",
) -> Event:
    """`councilor_error` when the run failed, timed out or was cancelled (`status` says which); else `completed`."""
    common: dict[str, Any] = {
        "councilor_id": councilor_id,
        "task_name": task_name,
        "display_name": display_name,
        "execution_id": run.execution_id,
        "started_at": iso_utc(run.started_at),
        "completed_at": iso_utc(run.completed_at),
        "duration_ms": run.duration_ms,
        "emoji": emoji,
    }
    if run.status in FAILED_STATUSES:
        failed: CouncilorError = {**common, "status": run.status, "severity": "error", "error": error}  # type: ignore[typeddict-item]
        if cancelled_by:
            failed["cancelled_by"] = cancelled_by
        return Event("councilor_error", _numbered(dict(failed), numbers), requester)
    completed: CouncilorCompleted = {**common, "status": "completed", "severity": run.severity}  # type: ignore[typeddict-item]
    return Event("councilor_completed", _numbered(dict(completed), numbers), requester)


def agent_execution_started(
    *,
    agent_id: str,
    agent_name: str,
    instance_id: str,
    execution_id: str,
    started_at: datetime,
    emoji: str,
    requester: int | None = None,
    numbers: RunNumbers | None = None,
) -> Event:
    data = AgentExecutionStarted(
        agent_id=agent_id,
        agent_name=agent_name,
        instance_id=instance_id,
        execution_id=execution_id,
        started_at=iso_utc(started_at),
        emoji=emoji,
    )
    return Event("agent_execution_started", _numbered(dict(data), numbers), requester)


def agent_execution_completed(
    *,
    agent_id: str,
    agent_name: str,
    instance_id: str,
    run: RunTimes,
    error: str,
    emoji: str,
    requester: int | None = None,
    numbers: RunNumbers | None = None,
    cancelled_by: str = "",
) -> Event:
    data = AgentExecutionCompleted(
        agent_id=agent_id,
        agent_name=agent_name,
        instance_id=instance_id,
        execution_id=run.execution_id,
        status=run.status if run.status in FAILED_STATUSES else "completed",  # type: ignore[typeddict-item]
        severity=run.severity,
        started_at=iso_utc(run.started_at),
        completed_at=iso_utc(run.completed_at),
        duration_ms=run.duration_ms,
        emoji=emoji,
    )
    if error:
        data["error"] = error
    if cancelled_by:
        data["cancelled_by"] = cancelled_by
    return Event("agent_execution_completed", _numbered(dict(data), numbers), requester)


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
