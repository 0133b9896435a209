from datetime import datetime, timedelta

import pytest
from croniter import croniter
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_q.models import Schedule

from councilors.models import Councilor, Execution, SkippedRun
from councilors.scheduling import (
    DUE_TIME_KWARG,
    RUN_TASK,
    councilor_next_run,
    councilor_schedule_sync,
    councilor_schedules_repair,
    due_schedules_exist,
)
from councilors.services import (
    councilor_delete,
    councilor_pause,
    councilor_resume,
    councilor_run_guarded,
    execution_start,
)
from councilors.validators import INTERVAL_MAX_MINUTES, INTERVAL_TOO_LONG
from tests.factories import edit_councilor, make_actor, make_councilor

pytestmark = pytest.mark.django_db


def _schedule(councilor: Councilor) -> Schedule:
    councilor.refresh_from_db()
    return Schedule.objects.get(pk=councilor.q_schedule_id)


def test_an_enabled_councilor_gets_exactly_one_interval_schedule():
    before = timezone.now()
    councilor = make_councilor(schedule_value="30m")
    schedule = _schedule(councilor)
    assert Schedule.objects.count() == 1
    assert (schedule.func, schedule.args, schedule.intended_date_kwarg) == (RUN_TASK, str(councilor.pk), DUE_TIME_KWARG)
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 30, -1)
    assert before + timedelta(minutes=30) <= schedule.next_run <= timezone.now() + timedelta(minutes=30)


@pytest.mark.parametrize(("value", "minutes"), [("1m", 1), ("2h", 120), ("1d", 1440)])
def test_interval_units_become_minutes(value, minutes):
    assert _schedule(make_councilor(schedule_value=value)).minutes == minutes


def test_a_disabled_councilor_has_no_schedule():
    councilor = make_councilor(enabled=False)
    assert councilor.q_schedule_id is None
    assert not Schedule.objects.exists()


def test_changing_to_cron_moves_the_next_run_to_the_cron_time():
    councilor = make_councilor(schedule_value="30m")
    edit_councilor(councilor, schedule_type="cron", schedule_value="*/5 * * * *")
    schedule = _schedule(councilor)
    assert (schedule.schedule_type, schedule.cron, schedule.minutes) == (Schedule.CRON, "*/5 * * * *", None)
    assert schedule.next_run == croniter("*/5 * * * *", timezone.now()).get_next(datetime)
    assert Schedule.objects.count() == 1


def test_editing_other_fields_keeps_the_next_run():
    councilor = make_councilor(schedule_value="30m")
    next_run = _schedule(councilor).next_run
    edit_councilor(councilor, title="Renamed", task_prompt="Another prompt.")
    schedule = _schedule(councilor)
    assert schedule.next_run == next_run
    assert schedule.name.endswith("Renamed")


def test_syncing_twice_keeps_one_schedule():
    councilor = make_councilor()
    councilor_schedule_sync(councilor=councilor)
    councilor_schedule_sync(councilor=councilor)
    assert Schedule.objects.count() == 1


def test_pause_removes_the_schedule_and_resume_brings_a_fresh_one():
    councilor = make_councilor(schedule_value="1h")
    councilor_pause(councilor=councilor, actor=make_actor("alice"))
    councilor.refresh_from_db()
    assert councilor.q_schedule_id is None and not Schedule.objects.exists()
    assert councilor_next_run(councilor=councilor) is None
    councilor_resume(councilor=councilor, actor=make_actor("alice"))
    schedule = _schedule(councilor)
    assert schedule.next_run > timezone.now() + timedelta(minutes=59)
    assert councilor_next_run(councilor=councilor) == schedule.next_run


def test_deleting_the_councilor_or_its_agent_deletes_the_schedule():
    councilor_delete(councilor=make_councilor())
    assert not Schedule.objects.exists()
    make_councilor().agent.delete()  # cascades past the services: the post_delete receiver cleans up
    assert not Schedule.objects.exists()


def test_due_schedules_are_seen_only_once_due():
    councilor = make_councilor()
    assert not due_schedules_exist()
    Schedule.objects.filter(pk=councilor.q_schedule_id).update(next_run=timezone.now() - timedelta(seconds=1))
    assert due_schedules_exist()


def test_a_run_finding_the_previous_one_running_is_skipped_and_recorded():
    councilor = make_councilor()
    running = execution_start(agent=councilor.agent, councilor=councilor, prompt="p")
    due = timezone.now()
    outcome = councilor_run_guarded(councilor_pk=councilor.pk, scheduled_for=due)
    assert isinstance(outcome, SkippedRun)
    assert (outcome.reason, outcome.running_execution, outcome.scheduled_for) == ("overlap", running, due)
    assert Execution.objects.count() == 1


def test_one_execution_per_due_time():
    councilor = make_councilor()
    due = timezone.now().replace(microsecond=0)
    first = councilor_run_guarded(councilor_pk=councilor.pk, scheduled_for=due)
    again = councilor_run_guarded(councilor_pk=councilor.pk, scheduled_for=due)
    assert first.status == Execution.Status.COMPLETED and first.scheduled_for == due
    assert isinstance(again, SkippedRun) and again.reason == SkippedRun.Reason.DUPLICATE
    assert Execution.objects.count() == 1


def test_a_scheduled_run_of_a_paused_councilor_is_skipped():
    councilor = make_councilor()
    councilor_pause(councilor=councilor, actor=make_actor("alice"))
    outcome = councilor_run_guarded(councilor_pk=councilor.pk, scheduled_for=timezone.now())
    assert isinstance(outcome, SkippedRun) and outcome.reason == SkippedRun.Reason.PAUSED
    assert not Execution.objects.exists()


def test_the_longest_interval_fits_django_q2s_minutes_column():
    assert _schedule(make_councilor(schedule_value="32767m")).minutes == INTERVAL_MAX_MINUTES


@pytest.mark.parametrize("value", ["23d", "547h", "32768m"])
def test_longer_intervals_are_refused_with_a_clear_message(value):
    with pytest.raises(ValidationError) as error:
        make_councilor(schedule_value=value)
    assert error.value.message_dict["schedule_value"] == [INTERVAL_TOO_LONG % {"value": value}]


@pytest.mark.parametrize("enabled", [True, False])
def test_saving_a_stale_copy_after_a_pause_leaves_a_consistent_schedule(enabled):
    councilor = make_councilor()
    stale = Councilor.objects.get(pk=councilor.pk)  # still points at the schedule
    councilor_pause(councilor=councilor, actor=make_actor("alice"))
    edit_councilor(stale, enabled=enabled, actor=make_actor("alice"))
    stale.refresh_from_db()
    assert Schedule.objects.count() == (1 if enabled else 0)
    assert stale.q_schedule_id == (Schedule.objects.get().pk if enabled else None)


def test_a_schedule_deleted_behind_the_services_back_is_recreated():
    councilor = make_councilor()
    paused = make_councilor(enabled=False)
    Schedule.objects.all().delete()  # e.g. in django-q2's own admin pages
    assert councilor_schedules_repair() == 1
    assert _schedule(councilor) is not None
    paused.refresh_from_db()
    assert paused.q_schedule_id is None
    assert councilor_schedules_repair() == 0


def test_the_next_run_of_a_councilor_whose_schedule_is_gone_is_estimated_until_the_repair():
    councilor = make_councilor(schedule_value="30m")
    stale = Councilor.objects.get(pk=councilor.pk)  # still names the schedule deleted below
    Schedule.objects.all().delete()
    now = timezone.now()
    ran = now - timedelta(minutes=10)
    assert councilor_next_run(councilor=stale, last_started=ran, now=now) == ran + timedelta(minutes=30)
    assert councilor_next_run(councilor=stale, now=now) == now + timedelta(minutes=30)
    assert councilor_next_run(councilor=stale, last_started=now - timedelta(hours=2), now=now) == now, "overdue"
    cron = make_councilor(schedule_type="cron", schedule_value="15 3 * * *")
    Schedule.objects.all().delete()
    cron.refresh_from_db()
    expected = croniter("15 3 * * *", timezone.localtime(now)).get_next(datetime)
    assert councilor_next_run(councilor=cron, last_started=ran, now=now) == expected


def test_a_paused_councilor_has_no_next_run_whatever_its_history():
    councilor = make_councilor(enabled=False)
    assert councilor_next_run(councilor=councilor, last_started=timezone.now()) is None
