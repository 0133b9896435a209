"""Retention (councilors/retention.py, `manage.py prune_runs`): old runs beyond each agent's newest are
deleted in batches; queued and running runs never are; metrics are over what is kept; it is recorded."""

from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from councilors.models import ActionRecord, Agent, Execution, RunIncident, SkippedRun
from councilors.retention import (
    BAD_BATCH,
    BAD_KEEP_MIN,
    PRUNE_TASK,
    RetentionError,
    executions_prune,
    prune_schedule_ensure,
)
from councilors.selectors import agent_metrics_get, agents_metrics_list, agents_trends_list
from councilors.tasks import PRUNE_ACTOR, prune_runs_task
from tests.factories import make_actor, make_agent, make_councilor

pytestmark = pytest.mark.django_db


def add_runs(agent: Agent, *, count: int, started: datetime, status: str = Execution.Status.COMPLETED) -> None:
    """`count` runs of `agent`, one a minute from `started`, numbered after its newest."""
    newest = agent.executions.order_by("-run_number").values_list("run_number", flat=True).first() or 0
    finished = status not in Execution.IN_FLIGHT
    severity = Execution.Severity.ERROR if status in Execution.FAILED else Execution.Severity.SUCCESS
    Execution.objects.bulk_create(
        Execution(
            execution_id=f"exec_{agent.agent_id}_{newest + n}",
            agent=agent,
            run_number=newest + n,
            kind=Execution.Kind.AGENT,
            status=status,
            severity=severity if finished else "",
            started_at=started + timedelta(minutes=n),
            completed_at=started + timedelta(minutes=n, seconds=2) if finished else None,
            duration_ms=2000 if finished else None,
        )
        for n in range(1, count + 1)
    )


@pytest.fixture
def keep(settings):
    settings.COUNCILORS_KEEP_RUNS_DAYS = 90
    settings.COUNCILORS_KEEP_RUNS_MIN = 5


def test_a_dry_run_counts_and_deletes_nothing(keep):
    agent = make_agent()
    add_runs(agent, count=20, started=timezone.now() - timedelta(days=200))
    result = executions_prune(actor=make_actor(), dry_run=True)
    assert result.per_agent == {agent.agent_id: 15}
    assert agent.executions.count() == 20
    assert not ActionRecord.objects.filter(action=ActionRecord.Action.PRUNE).exists()


def test_old_runs_beyond_the_newest_go_in_batches_and_running_ones_stay(keep):
    agent, young = make_agent(), make_agent()
    old = timezone.now() - timedelta(days=200)
    add_runs(agent, count=3, started=old - timedelta(days=1), status=Execution.Status.RUNNING)
    add_runs(agent, count=2, started=old - timedelta(days=1), status=Execution.Status.QUEUED)
    add_runs(agent, count=25, started=old)  # #6..#30: #26..#30 are the newest five
    add_runs(young, count=30, started=timezone.now() - timedelta(days=10))  # within 90 days: all kept
    with CaptureQueriesContext(connection) as queries:
        result = executions_prune(actor=make_actor("ops"), batch_size=7)

    assert result.per_agent == {agent.agent_id: 20}
    assert result.batches == 3  # 7 + 7 + 6, each its own transaction
    assert sum(1 for q in queries if q["sql"].startswith("DELETE") and "councilors_execution" in q["sql"]) == 3
    left = sorted(agent.executions.values_list("run_number", "status"))
    assert left == [(1, "running"), (2, "running"), (3, "running"), (4, "queued"), (5, "queued")] + [
        (n, "completed") for n in range(26, 31)
    ]
    assert young.executions.count() == 30
    record = ActionRecord.objects.get(action=ActionRecord.Action.PRUNE)
    assert (record.target, record.actor_name, record.source) == (agent.agent_id, "ops", "command")


def test_metrics_are_over_what_is_kept_and_run_numbers_go_on(keep):
    agent = make_agent()
    add_runs(agent, count=12, started=timezone.now() - timedelta(days=200))
    executions_prune(actor=make_actor())
    metrics = agent_metrics_get(agent=agent)
    assert metrics["total_executions"] == 5 == agents_metrics_list()[agent.agent_id]["total_executions"]
    trend = agents_trends_list()[agent.agent_id]
    assert [point["execution_id"] for point in trend] == [f"exec_{agent.agent_id}_{n}" for n in range(8, 13)]
    fresh = Execution.objects.create(
        execution_id="exec_next",
        agent=agent,
        kind=Execution.Kind.AGENT,
        started_at=timezone.now(),
    )
    assert fresh.run_number == 13  # the newest kept is #12: no number is given twice


def test_the_newest_run_is_always_kept_however_old(settings):
    settings.COUNCILORS_KEEP_RUNS_DAYS = 1
    settings.COUNCILORS_KEEP_RUNS_MIN = 1
    agent = make_agent()
    add_runs(agent, count=4, started=timezone.now() - timedelta(days=400))
    executions_prune(actor=make_actor())
    assert list(agent.executions.values_list("run_number", flat=True)) == [4]


def test_bad_settings_and_options_are_clear_errors(settings):
    settings.COUNCILORS_KEEP_RUNS_MIN = 0
    with pytest.raises(RetentionError, match="COUNCILORS_KEEP_RUNS_MIN"):
        executions_prune(actor=make_actor())
    with pytest.raises(CommandError) as error:
        call_command("prune_runs", "--by", "ops")
    assert str(error.value) == BAD_KEEP_MIN.format(value=0)
    settings.COUNCILORS_KEEP_RUNS_MIN = 5
    with pytest.raises(CommandError) as error:
        call_command("prune_runs", "--batch-size", "0", "--by", "ops")
    assert str(error.value) == BAD_BATCH.format(value=0)


def test_the_command_prints_per_agent_and_the_dry_run_says_would(keep):
    agent = make_agent(agent_id="heartbeat")
    add_runs(agent, count=8, started=timezone.now() - timedelta(days=200))
    out = StringIO()
    call_command("prune_runs", "--dry-run", "--by", "ops", stdout=out)
    assert out.getvalue().splitlines() == [
        "heartbeat: would delete 3 runs",
        "Would delete 3 runs (older than 90 days, beyond the newest 5 of each agent).",
    ]
    out = StringIO()
    call_command("prune_runs", "--by", "ops", stdout=out)
    assert out.getvalue().splitlines()[0] == "heartbeat: deleted 3 runs"
    assert agent.executions.count() == 5


def test_the_daily_schedule_is_made_once_and_its_task_records_the_prune(keep):
    first = prune_schedule_ensure()
    Schedule.objects.create(func=PRUNE_TASK, schedule_type=Schedule.DAILY, name="a second cluster's")
    assert prune_schedule_ensure().pk == first.pk
    assert list(Schedule.objects.filter(func=PRUNE_TASK).values_list("pk", flat=True)) == [first.pk]
    assert first.schedule_type == Schedule.DAILY and first.next_run > timezone.now()

    agent = make_agent()
    add_runs(agent, count=7, started=timezone.now() - timedelta(days=200))
    assert prune_runs_task() == 2
    record = ActionRecord.objects.get(action=ActionRecord.Action.PRUNE)
    assert (record.actor_name, record.source) == (PRUNE_ACTOR, ActionRecord.Source.SCHEDULE)


def test_references_to_pruned_runs_are_cleared_as_their_set_null_says(keep):
    councilor = make_councilor()
    agent = councilor.agent
    add_runs(agent, count=10, started=timezone.now() - timedelta(days=200))
    oldest, newest = agent.executions.get(run_number=1), agent.executions.get(run_number=10)
    Execution.objects.filter(pk=newest.pk).update(first_attempt=oldest, attempt=2)
    incident = RunIncident.objects.create(
        councilor=councilor, kind="stuck", key=oldest.execution_id, execution=oldest, raised_at=timezone.now()
    )
    skipped = SkippedRun.objects.create(councilor=councilor, reason="overlap", running_execution=oldest)

    assert executions_prune(actor=make_actor()).per_agent == {agent.agent_id: 5}

    newest.refresh_from_db()
    incident.refresh_from_db()
    skipped.refresh_from_db()
    assert (newest.first_attempt_id, incident.execution_id, skipped.running_execution_id) == (None, None, None)
