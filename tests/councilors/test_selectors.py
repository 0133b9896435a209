"""Metrics derived from the execution rows themselves (docs/protocol.md, "Events"), and the councilor list."""

from datetime import UTC, datetime, timedelta

import pytest

from councilors.models import Execution
from councilors.selectors import agent_metrics_get, agents_metrics_list, councilors_overview
from infrastructure.timestamps import iso_utc
from tests.factories import make_agent, make_councilor

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def add_run(agent, *, minute: int, severity: str = "", status: str = "completed", duration_ms: int | None = 1000, **kw):
    started = T0 + timedelta(minutes=minute)
    finished = status != "running"
    return Execution.objects.create(
        execution_id=f"exec_{agent.agent_id}_{minute}",
        agent=agent,
        kind=kw.pop("kind", "agent"),
        status=status,
        severity=severity if finished else "",
        started_at=started,
        completed_at=started + timedelta(milliseconds=duration_ms) if finished else None,
        duration_ms=duration_ms if finished else None,
        **kw,
    )


def test_metrics_of_an_agent_without_runs():
    assert agent_metrics_get(agent=make_agent()) == {
        "total_executions": 0,
        "success_rate": 0.0,
        "last_execution": None,
        "last_severity": None,
        "avg_duration_ms": None,
    }


def test_metrics_are_derived_from_the_executions():
    agent = make_agent()
    add_run(agent, minute=0, severity="success", duration_ms=1000)
    add_run(agent, minute=1, severity="warning", duration_ms=2000)
    add_run(agent, minute=2, severity="error", status="error", duration_ms=6000)
    add_run(agent, minute=3, severity="success", duration_ms=3000)
    metrics = agent_metrics_get(agent=agent)
    # Warnings are successful runs; only error-severity runs count against the rate.
    assert metrics == {
        "total_executions": 4,
        "success_rate": 75.0,
        "last_execution": "2026-01-01T12:03:00.000Z",
        "last_severity": "success",
        "avg_duration_ms": 3000.0,
    }


def test_a_running_execution_counts_in_the_total_but_not_the_rates():
    agent = make_agent()
    add_run(agent, minute=0, severity="error", status="error", duration_ms=500)
    add_run(agent, minute=5, status="running")
    metrics = agent_metrics_get(agent=agent)
    assert metrics["total_executions"] == 2
    assert metrics["success_rate"] == 0.0
    assert metrics["last_execution"] == iso_utc(T0 + timedelta(minutes=5))
    assert metrics["last_severity"] == "error", "the latest *finished* run's severity"
    assert metrics["avg_duration_ms"] == 500.0


def test_an_error_severity_completed_run_is_not_a_success():
    agent = make_agent()
    add_run(agent, minute=0, severity="error", status="completed")
    add_run(agent, minute=1, severity="success")
    add_run(agent, minute=2, severity="success")
    assert agent_metrics_get(agent=agent)["success_rate"] == 66.7


def test_metrics_of_every_agent_are_separate():
    first, second, idle = make_agent(), make_agent(), make_agent()
    add_run(first, minute=0, severity="success")
    add_run(second, minute=0, severity="error", status="error")
    add_run(second, minute=1, severity="error", status="error")
    metrics = agents_metrics_list()
    assert {agent_id: m["total_executions"] for agent_id, m in metrics.items()} == {
        first.agent_id: 1,
        second.agent_id: 2,
        idle.agent_id: 0,
    }
    assert metrics[first.agent_id]["success_rate"] == 100.0
    assert metrics[second.agent_id]["success_rate"] == 0.0


def test_metrics_follow_deleted_history():
    agent = make_agent()
    add_run(agent, minute=0, severity="error", status="error")
    keep = add_run(agent, minute=1, severity="success")
    Execution.objects.exclude(pk=keep.pk).delete()
    assert agent_metrics_get(agent=agent)["success_rate"] == 100.0


def test_councilors_carry_their_latest_run():
    councilor, idle = make_councilor(), make_councilor()
    add_run(councilor.agent, minute=0, severity="error", status="error", kind="councilor", councilor=councilor)
    add_run(councilor.agent, minute=9, severity="warning", kind="councilor", councilor=councilor)
    rows = {c.pk: c for c in councilors_overview()}
    latest, never = rows[councilor.pk], rows[idle.pk]
    assert (latest.last_started_at, latest.last_severity) == (T0 + timedelta(minutes=9), "warning")
    assert (never.last_started_at, never.last_severity) == (None, None)
