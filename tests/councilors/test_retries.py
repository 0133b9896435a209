"""Retries of failed councilor runs: backoff, attempt numbers, one notification for the final outcome."""

import ast
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django_q.models import Schedule

from councilors import notifications, retries, tasks
from councilors.models import Execution, SkippedRun
from councilors.retries import RETRY_TASK, councilor_run_ended, retry_delay_s
from councilors.selectors import councilor_failure_streak, execution_wait_finished
from councilors.services import councilor_run_guarded, execution_finish, execution_start
from tests.councilors.cluster import eventually, qclusters
from tests.factories import make_agent, make_councilor

PY = sys.executable
FAILING = [PY, "-c", "print('tried'); raise SystemExit(3)"]


@pytest.fixture
def alerts(monkeypatch):
    """The `system_alert`s the notifications module emits, as (type, data) pairs."""
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(notifications, "emit", lambda *event: sent.append(event[:2]))
    return sent


@pytest.fixture
def mailed(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.COUNCILORS_NOTIFY_EMAILS = ["ops@example.com"]
    settings.COUNCILORS_FAILURE_ALERT_THRESHOLD = 1
    return mail.outbox


def failing_councilor(**fields):
    defaults = {"max_retries": 2, "retry_backoff_s": 10, "notification_channels": ["panel", "email"]}
    return make_councilor(agent=make_agent(runner_config={"argv": FAILING, "timeout": 10}), **{**defaults, **fields})


def retry_schedules() -> list[Schedule]:
    return list(Schedule.objects.filter(func=RETRY_TASK).order_by("pk"))


def run_retry(schedule: Schedule) -> Execution:
    """What the worker does when django-q2 hands it the one-off schedule's task (args as stored)."""
    outcome = tasks.run_councilor_retry_task(*ast.literal_eval(schedule.args))
    schedule.delete()  # django-q2 deletes a one-off schedule with negative repeats when it queues it
    return Execution.objects.get(execution_id=outcome)


@pytest.mark.parametrize(
    ("retry", "draw", "expected"),
    [(1, 0.5, 30.0), (1, 0.0, 22.5), (1, 1.0, 37.5), (2, 0.5, 60.0), (3, 0.5, 120.0), (20, 0.5, 3600.0)],
)
def test_backoff_doubles_from_the_base_with_jitter_and_a_cap(retry, draw, expected):
    assert retry_delay_s(base_s=30, retry=retry, rng=lambda: draw) == pytest.approx(expected)


def test_backoff_max_is_a_setting(settings):
    settings.COUNCILORS_RETRY_BACKOFF_MAX_S = 45
    assert retry_delay_s(base_s=30, retry=2, rng=lambda: 0.5) == 45


@pytest.mark.django_db
def test_a_failing_run_is_retried_with_backoff_and_notifies_once(mailed, alerts):
    councilor = failing_councilor()
    first = councilor_run_guarded(councilor_pk=councilor.pk)
    assert (first.status, first.attempt, first.max_attempts, first.first_attempt) == ("error", 1, 3, None)
    [schedule] = retry_schedules()
    wait = (schedule.next_run - first.completed_at).total_seconds()
    assert 7.5 - 1 <= wait <= 12.5 + 1  # 10 s ± 25 % jitter (and the moment between the two clocks)
    assert mailed == [] and alerts == []  # attempt 1 of 3 will be retried: nobody is told yet

    second = run_retry(schedule)
    assert (second.attempt, second.max_attempts, second.first_attempt_id, second.status) == (2, 3, first.pk, "error")
    assert second.run_number == first.run_number + 1
    [schedule] = retry_schedules()
    wait = (schedule.next_run - second.completed_at).total_seconds()
    assert 15 - 1 <= wait <= 25 + 1  # doubled
    assert mailed == [] and alerts == []

    third = run_retry(schedule)
    assert (third.attempt, third.first_attempt_id, third.status) == (3, first.pk, "error")
    assert retry_schedules() == []  # attempts exhausted
    assert len(mailed) == 1 and third.execution_id in mailed[0].body
    assert "Attempt: 3 of 3" in mailed[0].body
    assert [event_type for event_type, _data in alerts] == ["system_alert"]  # one run failed, not three
    assert councilor_failure_streak(councilor=councilor, limit=5) == 1


@pytest.mark.django_db
def test_a_retry_that_succeeds_ends_the_chain_and_is_the_one_notified(mailed, alerts):
    councilor = failing_councilor(notify_on_success=True)
    first = councilor_run_guarded(councilor_pk=councilor.pk)
    [schedule] = retry_schedules()
    councilor.agent.runner_config = {"argv": [PY, "-c", "print('fine now')"], "timeout": 10}
    councilor.agent.save()
    second = run_retry(schedule)
    assert (second.status, second.attempt, second.first_attempt_id) == ("completed", 2, first.pk)
    assert retry_schedules() == []
    assert len(mailed) == 1 and "Success" in mailed[0].subject
    assert alerts == []


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["error", "timed_out"])
def test_errors_and_timeouts_are_retried(status):
    councilor = make_councilor(max_retries=1)
    execution = execution_start(agent=councilor.agent, councilor=councilor, prompt="p", max_attempts=2)
    councilor_run_ended(execution=execution_finish(execution=execution, output="", error="boom", status=status))
    assert len(retry_schedules()) == 1


@pytest.mark.django_db
def test_a_cancelled_run_is_never_retried(mailed, alerts):
    councilor = failing_councilor()
    execution = execution_start(agent=councilor.agent, councilor=councilor, prompt="p", max_attempts=3)
    execution = execution_finish(execution=execution, output="so far", error="cancelled", status="cancelled")
    councilor_run_ended(execution=execution)
    assert retry_schedules() == []
    assert mailed == []  # the cancel is the final outcome, and someone asked for it: no error e-mail


@pytest.mark.django_db
def test_without_max_retries_nothing_is_retried(mailed):
    councilor = failing_councilor(max_retries=0)
    execution = councilor_run_guarded(councilor_pk=councilor.pk)
    assert (execution.attempt, execution.max_attempts) == (1, 1)
    assert retry_schedules() == []
    assert len(mailed) == 1


@pytest.mark.django_db
def test_a_retry_of_a_paused_councilor_is_skipped_and_the_last_failure_notified(mailed):
    councilor = failing_councilor()
    first = councilor_run_guarded(councilor_pk=councilor.pk)
    [schedule] = retry_schedules()
    councilor.enabled = False
    councilor.save()
    tasks.run_councilor_retry_task(*ast.literal_eval(schedule.args))
    assert SkippedRun.objects.get(councilor=councilor).reason == SkippedRun.Reason.PAUSED
    assert Execution.objects.filter(councilor=councilor).count() == 1
    assert len(mailed) == 1 and first.execution_id in mailed[0].body


@pytest.mark.django_db
def test_a_retry_delivered_twice_runs_once(mailed):
    councilor = failing_councilor()
    councilor_run_guarded(councilor_pk=councilor.pk)
    [schedule] = retry_schedules()
    args = ast.literal_eval(schedule.args)
    tasks.run_councilor_retry_task(*args)
    tasks.run_councilor_retry_task(*args)
    assert Execution.objects.filter(councilor=councilor, attempt=2).count() == 1
    assert SkippedRun.objects.get(councilor=councilor).reason == SkippedRun.Reason.DUPLICATE


@pytest.mark.django_db
def test_the_retry_keeps_the_requester(admin_user):
    councilor = failing_councilor()
    councilor_run_guarded(councilor_pk=councilor.pk, requested_by=admin_user)
    second = run_retry(retry_schedules()[0])
    assert second.requested_by == admin_user


def test_the_jitter_spreads_retries():
    draws = {round(retry_delay_s(base_s=30, retry=1), 3) for _ in range(20)}
    assert len(draws) > 1 and all(22.5 <= draw <= 37.5 for draw in draws)
    assert retries.RETRY_JITTER == 0.25


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_retries_wait_in_the_database_and_run_on_a_real_cluster(tmp_path):
    councilor = failing_councilor(retry_backoff_s=1, notification_channels=["panel"])
    # The first attempt fails while no cluster is up: its retry waits in the database for one.
    first_id = councilor_run_guarded(councilor_pk=councilor.pk).execution_id
    assert len(retry_schedules()) == 1
    with qclusters(1, log_dir=tmp_path):
        third = eventually(
            lambda: Execution.objects.filter(councilor=councilor, attempt=3).first(), timeout=60, what="attempt 3"
        )
        third = execution_wait_finished(execution_id=third.execution_id, timeout=30)
    first = Execution.objects.get(execution_id=first_id)
    second = Execution.objects.get(councilor=councilor, attempt=2)
    assert [run.status for run in (first, second, third)] == ["error"] * 3
    assert second.first_attempt_id == third.first_attempt_id == first.pk
    # Each waited its backoff (1 s, then 2 s, ±25 %) after the one before it ended.
    assert second.started_at - first.completed_at >= timedelta(seconds=0.75)
    assert third.started_at - second.completed_at >= timedelta(seconds=1.5)
    assert retry_schedules() == []


@pytest.mark.django_db
def test_the_run_page_says_which_attempt_and_links_to_the_first(admin_client):
    from django.urls import reverse

    councilor = failing_councilor()
    first = councilor_run_guarded(councilor_pk=councilor.pk)
    second = run_retry(retry_schedules()[0])
    page = admin_client.get(reverse("run_detail", args=[second.execution_id])).content.decode()
    assert 'id="run-attempt">attempt 2 of 3 · <a href="' + reverse("run_detail", args=[first.execution_id]) in page
    first_page = admin_client.get(reverse("run_detail", args=[first.execution_id])).content.decode()
    assert 'id="run-attempt">attempt 1 of 3</dd>' in first_page
    plain = make_councilor()
    once = councilor_run_guarded(councilor_pk=plain.pk)
    assert 'id="run-attempt"' not in admin_client.get(reverse("run_detail", args=[once.execution_id])).content.decode()


@pytest.mark.django_db
def test_the_retry_is_due_exactly_its_backoff_after_the_failure_on_a_clock_we_hold():
    councilor = failing_councilor(retry_backoff_s=40)
    execution = execution_start(agent=councilor.agent, councilor=councilor, prompt="p", max_attempts=3)
    execution = execution_finish(execution=execution, output="", error="boom")
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    schedule = retries.councilor_retry_schedule(execution=execution, now=now, rng=lambda: 1.0)
    assert schedule.next_run == now + timedelta(seconds=50)  # 40 s, +25 %
    assert ast.literal_eval(schedule.args) == (councilor.pk, execution.pk, 2, 3)
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.ONCE, -1)
