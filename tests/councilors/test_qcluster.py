"""Councilors on schedule, run by real `qcluster` processes on the test database and Redis."""

import sys
from datetime import datetime, timedelta

import pytest
from croniter import croniter
from django.utils import timezone
from django_q.models import Schedule

from councilors.models import Execution
from tests.councilors.cluster import eventually, make_due, qclusters
from tests.councilors.layer import of_type
from tests.factories import make_agent, make_councilor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _execution(councilor, due: datetime) -> Execution | None:
    return Execution.objects.filter(councilor=councilor, scheduled_for=due).exclude(status="running").first()


def test_an_interval_councilor_runs_on_its_own_and_its_events_arrive_in_order(listener, tmp_path):
    councilor = make_councilor(schedule_value="1m")
    with qclusters(log_dir=tmp_path):
        due = make_due(councilor)
        metrics = listener.wait_for(of_type("agent_metrics_updated", agent_id=councilor.councilor_id))
        execution = eventually(lambda: _execution(councilor, due), what="execution finished")
    ours = [
        e for e in listener.seen if councilor.councilor_id in (e["data"].get("councilor_id"), e["data"].get("agent_id"))
    ]
    assert [e["type"] for e in ours] == ["councilor_started", "councilor_completed", "agent_metrics_updated"]
    assert {e["data"].get("execution_id") for e in ours[:2]} == {execution.execution_id}
    assert ours[1]["data"]["severity"] == "success" and ours[1]["data"]["status"] == "completed"
    assert metrics["data"]["metrics"]["total_executions"] == 1
    assert (execution.status, execution.scheduled_for, execution.output.strip()) == ("completed", due, "all good")
    # The schedule moved on by one interval from the due time, not from when it happened to run.
    assert Schedule.objects.get(pk=councilor.schedule_id).next_run == due + timedelta(minutes=1)
