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


class Event(NamedTuple):
    type: str
    data: dict[str, Any]
    # The pk of the user who asked for the run (its private details are theirs); None: nobody did.
    requester: int | None = None


class RunTimes(NamedTuple):
    """How a finished run went, as every "run ended" event reports it."""

    execution_id: str
    status: str  # completed | error
    severity: Severity
    started_at: datetime
    completed_at: datetime
    duration_ms: int


def councilor_started(
    *, councilor_id: str, task_name: str, display_name: str, execution_id: str, started_at: datetime, emoji: str
) -> Event:
    data = CouncilorStarted(
        councilor_id=councilor_id,
        task_name=task_name,
        display_name=display_name,
        execution_id=execution_id,
        started_at=iso_utc(started_at),
        emoji=emoji,
    )
    return Event("councilor_started", dict(data))


def councilor_finished(
    *,
    councilor_id: str,
    task_name: str,
    display_name: str,
    run: RunTimes,
    error: str,
    emoji: str,
    requester: int | None = None,
) -> Event:
    """`councilor_error` when the run failed, `councilor_completed` otherwise."""
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
    if run.status == "error":
        failed: CouncilorError = {**common, "status": "error", "severity": "error", "error": error}  # type: ignore[typeddict-item]
        return Event("councilor_error", dict(failed), requester)
    completed: CouncilorCompleted = {**common, "status": "completed", "severity": run.severity}  # type: ignore[typeddict-item]
    return Event("councilor_completed", dict(completed), requester)


def agent_execution_started(
    *,
    agent_id: str,
    agent_name: str,
    instance_id: str,
    execution_id: str,
    started_at: datetime,
    emoji: str,
    requester: int | None = None,
) -> Event:
    data = AgentExecutionStarted(
        agent_id=agent_id,
        agent_name=agent_name,
        instance_id=instance_id,
        execution_id=execution_id,
        started_at=iso_utc(started_at),
        emoji=emoji,
    )
    return Event("agent_execution_started", dict(data), requester)


def agent_execution_completed(
    *,
    agent_id: str,
    agent_name: str,
    instance_id: str,
    run: RunTimes,
    error: str,
    emoji: str,
    requester: int | None = None,
) -> Event:
    data = AgentExecutionCompleted(
        agent_id=agent_id,
        agent_name=agent_name,
        instance_id=instance_id,
        execution_id=run.execution_id,
        status="error" if run.status == "error" else "completed",
        severity=run.severity,
        started_at=iso_utc(run.started_at),
        completed_at=iso_utc(run.completed_at),
        duration_ms=run.duration_ms,
        emoji=emoji,
    )
    if error:
        data["error"] = error
    return Event("agent_execution_completed", dict(data), requester)


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
