"""Metrics derived from the execution rows themselves (docs/protocol.md, "Events"), and the councilor list."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser

from councilors.models import Execution
from councilors.selectors import (
    VIEW_EXECUTION_PERMISSION,
    QueuedRun,
    agent_executions_list,
    agent_find_for_api,
    agent_metrics_get,
    agent_trend_get,
    agents_metrics_list,
    agents_trends_list,
    councilors_overview,
    execution_find_visible,
    execution_visible_to,
)
from councilors.services import agent_enqueue
from infrastructure.timestamps import iso_utc
from tests.factories import make_actor, make_agent, make_councilor, make_user

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


def test_one_agents_metrics_match_the_listing_of_every_agent():
    """A finish announces `agent_metrics_get` (one cheap statement); the dashboard lists `agents_metrics_list`."""
    agent, other, idle = make_agent(), make_agent(), make_agent()
    add_run(agent, minute=0, severity="success", duration_ms=1001)
    add_run(agent, minute=1, severity="warning", duration_ms=2002)
    add_run(agent, minute=2, severity="error", status="timed_out", duration_ms=7)
    add_run(agent, minute=3, severity="error", status="completed", duration_ms=10)
    add_run(agent, minute=5, status="running")
    add_run(agent, minute=6, severity="error", status="cancelled", duration_ms=3)
    add_run(other, minute=9, severity="error", status="error", duration_ms=1)
    listed = agents_metrics_list()
    for one in (agent, other, idle):
        assert agent_metrics_get(agent=one) == listed[one.agent_id]
    assert listed[agent.agent_id]["last_execution"] == iso_utc(T0 + timedelta(minutes=6))
    assert listed[agent.agent_id]["last_severity"] == "error"
    assert listed[agent.agent_id]["avg_duration_ms"] == round((1001 + 2002 + 7 + 3 + 10) / 5, 1)


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


# Who may read an execution's prompt and output


@pytest.fixture
def asked(db):
    """An execution someone asked for, and that someone."""
    owner = make_user()
    return add_run(make_agent(), minute=1, severity="success", requested_by=owner), owner


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("requester", True),
        ("someone else", False),
        ("someone else with run_agent", False),
        ("staff without the permission", False),
        ("viewer", True),
        ("superuser", True),
        ("inactive viewer", False),
        ("anonymous", False),
    ],
)
def test_an_execution_is_visible_to_its_requester_and_viewers_only(asked, who, visible):
    execution, owner = asked
    users = {
        "requester": lambda: owner,
        "someone else": make_user,
        "someone else with run_agent": lambda: make_user(permissions=("councilors.run_agent",)),
        "staff without the permission": lambda: make_user(is_staff=True),
        "viewer": lambda: make_user(permissions=(VIEW_EXECUTION_PERMISSION,)),
        "superuser": lambda: make_user(is_staff=True, is_superuser=True),
        "inactive viewer": lambda: make_user(permissions=(VIEW_EXECUTION_PERMISSION,), is_active=False),
        "anonymous": AnonymousUser,
    }
    user = users[who]()
    assert execution_visible_to(execution=execution, user=user) is visible
    found = execution_find_visible(execution_id=execution.execution_id, user=user)
    assert found == (execution if visible else None)


def test_a_queued_run_is_visible_to_whoever_asked_for_it(agent):
    owner, other = make_user(), make_user()
    execution_id = agent_enqueue(agent=agent, prompt="x", actor=make_actor(user=owner))
    queued = execution_find_visible(execution_id=execution_id, user=owner)
    assert queued == QueuedRun(execution_id=execution_id, agent_id=agent.agent_id, requested_by_id=owner.pk)
    assert execution_find_visible(execution_id=execution_id, user=other) is None


def test_an_id_that_names_nothing_is_visible_to_nobody():
    viewer = make_user(permissions=(VIEW_EXECUTION_PERMISSION,))
    assert execution_find_visible(execution_id="exec_ghost_1", user=viewer) is None
    assert execution_find_visible(execution_id="not a slug\x00", user=viewer) is None


def test_only_agents_available_through_the_api_are_found_for_it():
    hidden, shown = make_agent(), make_agent(api_enabled=True)
    assert agent_find_for_api(agent_id=hidden.agent_id) is None
    assert agent_find_for_api(agent_id=shown.agent_id) == shown
    assert agent_find_for_api(agent_id="ghost") is None


def test_runs_of_an_agent_newest_first_filtered_by_severity_and_status():
    agent, other = make_agent(), make_agent()
    add_run(agent, minute=1, severity="success")
    add_run(agent, minute=2, severity="error", status="error")
    add_run(agent, minute=3, severity="warning")
    add_run(agent, minute=4, status="running")
    add_run(other, minute=5, severity="success")
    ids = lambda runs: [run.execution_id.rsplit("_", 1)[1] for run in runs]  # noqa: E731
    assert ids(agent_executions_list(agent=agent)) == ["4", "3", "2", "1"]
    assert ids(agent_executions_list(agent=agent, severity="warning")) == ["3"]
    assert ids(agent_executions_list(agent=agent, status="running")) == ["4"]
    assert ids(agent_executions_list(agent=agent, status="completed", severity="success")) == ["1"]


def test_the_trend_is_the_latest_finished_runs_oldest_first():
    agent, other = make_agent(), make_agent()
    for minute in range(1, 8):
        add_run(agent, minute=minute, severity="error" if minute == 6 else "success", duration_ms=minute * 100)
    add_run(agent, minute=9, status="running")
    add_run(other, minute=2, severity="warning", duration_ms=50)
    trend = agent_trend_get(agent=agent, limit=3)
    assert [(point["duration_ms"], point["severity"]) for point in trend] == [
        (500, "success"),
        (600, "error"),
        (700, "success"),
    ]
    assert trend[0]["execution_id"] == f"exec_{agent.agent_id}_5"
    assert trend[0]["started_at"] == (T0 + timedelta(minutes=5)).isoformat()
    every = agents_trends_list(limit=3)
    assert every[agent.agent_id] == trend
    assert [point["severity"] for point in every[other.agent_id]] == ["warning"]


def test_a_run_is_visible_to_holders_of_the_view_permission_only_until_it_knows_its_requester():
    run = add_run(make_agent(), minute=1, severity="success")
    assert execution_visible_to(execution=run, user=make_user(permissions=("councilors.view_execution",))) is True
    assert execution_visible_to(execution=run, user=make_user()) is False
    assert execution_visible_to(execution=run, user=make_user(is_superuser=True)) is True
    assert (
        execution_visible_to(execution=run, user=make_user(permissions=("councilors.view_execution",), is_active=False))
        is False
    )
    assert execution_visible_to(execution=run, user=None) is False


def test_the_requester_sees_their_own_run():
    asker, other = make_user(), make_user()

    class Requested:  # an execution that knows who asked (Execution.requested_by, issue 11)
        requested_by_id = asker.pk

    assert execution_visible_to(execution=Requested(), user=asker) is True
    assert execution_visible_to(execution=Requested(), user=other) is False
