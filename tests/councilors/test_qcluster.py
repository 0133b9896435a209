"""Councilors on schedule, run by real `qcluster` processes on the test database and Redis."""

import sys
from datetime import datetime, timedelta

import psutil
import pytest
from croniter import croniter
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import async_task

from councilors.app_settings import app_settings
from councilors.models import Execution, SkippedRun
from councilors.notifications import STREAK_MESSAGE
from councilors.reaper import WORKER_LOST
from councilors.scheduling import DUE_TIME_KWARG, RUN_TASK
from councilors.services import councilor_pause, councilor_resume
from tests.councilors.cluster import eventually, make_due, qclusters
from tests.councilors.layer import of_type
from tests.factories import make_actor, make_agent, make_councilor

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
    assert Schedule.objects.get(pk=councilor.q_schedule_id).next_run == due + timedelta(minutes=1)


def test_pause_stops_runs_and_resume_restarts_them(tmp_path):
    councilor = make_councilor(schedule_value="1m")
    with qclusters(log_dir=tmp_path):
        first_due = make_due(councilor)
        eventually(lambda: _execution(councilor, first_due), what="first run")
        councilor_pause(councilor=councilor, actor=make_actor("alice"))
        assert not Schedule.objects.filter(
            func=RUN_TASK
        ).exists()  # no councilor schedule left for any cluster to find due
        # A run django-q2 queued just before the pause does not start either.
        async_task(RUN_TASK, councilor.pk, **{DUE_TIME_KWARG: timezone.now().isoformat()})
        skipped = eventually(lambda: SkippedRun.objects.filter(councilor=councilor).first(), what="skip recorded")
        assert skipped.reason == SkippedRun.Reason.PAUSED
        assert Execution.objects.filter(councilor=councilor).count() == 1
        councilor_resume(councilor=councilor, actor=make_actor("alice"))
        second_due = make_due(councilor)
        eventually(lambda: _execution(councilor, second_due), what="run after resume")
    assert Execution.objects.filter(councilor=councilor).count() == 2


def test_a_cron_councilor_runs_when_due_and_then_waits_for_the_next_cron_time(tmp_path):
    expression = "*/10 * * * *"
    before = timezone.now()
    councilor = make_councilor(schedule_type="cron", schedule_value=expression)
    councilor.refresh_from_db()
    assert Schedule.objects.get(pk=councilor.q_schedule_id).next_run == croniter(expression, before).get_next(datetime)
    with qclusters(log_dir=tmp_path):
        due = make_due(councilor)
        execution = eventually(lambda: _execution(councilor, due), what="cron run")
    next_run = Schedule.objects.get(pk=councilor.q_schedule_id).next_run
    assert next_run == croniter(expression, execution.started_at).get_next(datetime)
    assert (next_run.minute % 10, next_run.second, next_run.microsecond) == (0, 0, 0)
    assert timedelta(0) < next_run - execution.started_at <= timedelta(minutes=10)


def test_two_clusters_run_each_due_time_exactly_once(tmp_path):
    councilors = [make_councilor(schedule_value="1m") for _ in range(4)]
    rounds = 3
    with qclusters(2, log_dir=tmp_path):
        for _ in range(rounds):
            dues = [(councilor, make_due(councilor)) for councilor in councilors]
            for councilor, due in dues:
                eventually(lambda c=councilor, d=due: _execution(c, d), what="scheduled run")
        expected = rounds * len(councilors)
        # django-q2 records each task it ran; a due time enqueued twice would show up here.
        eventually(lambda: Task.objects.count() >= expected and not OrmQ.objects.exists(), what="queue drained")
    assert Task.objects.count() == expected
    assert Execution.objects.count() == expected
    for councilor in councilors:
        dues = list(Execution.objects.filter(councilor=councilor).values_list("scheduled_for", flat=True))
        assert len(dues) == len(set(dues)) == rounds
    assert not SkippedRun.objects.exists()


def test_a_killed_worker_s_run_ends_as_error_worker_lost(listener, tmp_path):
    agent = make_agent(runner_config={"argv": [sys.executable, "-c", "import time; time.sleep(60)"], "timeout": 120})
    councilor = make_councilor(agent=agent, schedule_value="1m")
    with qclusters(log_dir=tmp_path):
        make_due(councilor)
        running = eventually(lambda: Execution.objects.filter(councilor=councilor, status="running").first())
        worker = psutil.Process(int(running.worker.rpartition(":")[2]))
        children = worker.children(recursive=True)
        worker.kill()  # SIGKILL: the run service gets no chance to finish the record
        for child in children:
            child.kill()
        event = listener.wait_for(of_type("councilor_error", execution_id=running.execution_id), timeout=30)
    running.refresh_from_db()
    assert (running.status, running.severity, running.error) == ("error", "error", WORKER_LOST)
    assert event["data"]["error"] == WORKER_LOST


def test_a_run_that_finds_the_previous_one_still_running_is_skipped(tmp_path):
    gate = tmp_path / "release"
    wait_for_gate = "import os, sys, time\nwhile not os.path.exists(sys.argv[1]): time.sleep(0.05)\nprint('done')"
    agent = make_agent(runner_config={"argv": [sys.executable, "-c", wait_for_gate, str(gate)], "timeout": 60})
    councilor = make_councilor(agent=agent, schedule_value="1m")
    # Unsandboxed: the command waits for a file of the test's own, which a sandbox hides.
    with qclusters(log_dir=tmp_path, COUNCILORS_SANDBOX="none"):
        make_due(councilor)
        first = eventually(lambda: Execution.objects.filter(councilor=councilor, status="running").first())
        second_due = make_due(councilor)
        skipped = eventually(lambda: SkippedRun.objects.filter(councilor=councilor).first(), what="skip recorded")
        gate.touch()
        eventually(lambda: Execution.objects.filter(pk=first.pk, status="completed").exists(), what="first done")
    assert (skipped.reason, skipped.running_execution_id, skipped.scheduled_for) == ("overlap", first.pk, second_due)
    assert Execution.objects.filter(councilor=councilor).count() == 1


def test_n_failures_in_a_row_raise_one_critical_alert(listener, tmp_path):
    failing = make_agent(runner_config={"argv": [sys.executable, "-c", "raise SystemExit(2)"], "timeout": 10})
    councilor = make_councilor(agent=failing, title="Nightly backup", schedule_value="1m")
    threshold = app_settings.FAILURE_ALERT_THRESHOLD
    with qclusters(log_dir=tmp_path):
        for _ in range(threshold + 1):
            due = make_due(councilor)
            execution = eventually(lambda d=due: _execution(councilor, d), what="failed run")
            listener.wait_for(of_type("councilor_error", execution_id=execution.execution_id))
        listener.drain(quiet_for=1.0)
    kinds = [e["type"] for e in listener.seen if e["type"] in ("councilor_error", "system_alert")]
    alert_at = kinds.index("system_alert")
    assert kinds.count("system_alert") == 1 and kinds.count("councilor_error") == threshold + 1
    assert kinds[:alert_at].count("councilor_error") == threshold
    alert = next(e for e in listener.seen if e["type"] == "system_alert")
    assert alert["data"]["level"] == "critical"
    assert alert["data"]["message"] == STREAK_MESSAGE % {"title": "Nightly backup", "count": threshold}


def test_email_is_sent_only_when_a_councilor_asks_for_it(tmp_path):
    mailbox = tmp_path / "mail"
    asked = make_councilor(title="Asked", notification_channels=["panel", "email"], notify_on_success=True)
    no_channel = make_councilor(title="Panel only", notification_channels=["panel"], notify_on_success=True)
    not_on_success = make_councilor(title="Errors only", notification_channels=["email"], notify_on_success=False)
    mail_env = {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mailbox),
        "COUNCILORS_NOTIFY_EMAILS": "ops@example.com",
    }
    with qclusters(log_dir=tmp_path, **mail_env):
        for councilor in (asked, no_channel, not_on_success):
            make_due(councilor)
        # The task returns (and django-q2 records it) only after its e-mail went out.
        eventually(lambda: Task.objects.filter(success=True).count() == 3, what="three runs recorded")
    messages = [path.read_text() for path in mailbox.iterdir()]
    assert len(messages) == 1
    assert "Subject: [Conductor] Asked: Success" in messages[0]
    assert "To: ops@example.com" in messages[0]


def test_after_downtime_the_missed_due_times_make_one_run_not_a_burst(tmp_path):
    councilor = make_councilor(schedule_value="1m")
    due = make_due(councilor, ago=timedelta(minutes=10, seconds=15))  # ten due times passed while no cluster ran
    with qclusters(log_dir=tmp_path):
        execution = eventually(lambda: _execution(councilor, due), what="catch-up run")
        eventually(lambda: Task.objects.exists() and not OrmQ.objects.exists(), what="queue drained")
    assert Execution.objects.filter(councilor=councilor).count() == 1
    next_run = Schedule.objects.get(pk=councilor.q_schedule_id).next_run
    # Back on the councilor's own grid (whole minutes after the missed due time), next one ahead.
    assert (next_run - due) % timedelta(minutes=1) == timedelta(0)
    assert execution.started_at < next_run <= execution.started_at + timedelta(minutes=1)
