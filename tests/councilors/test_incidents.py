"""Late, stuck and missed incidents (councilors/incidents.py): each raised exactly once however many
cluster loops look at the same moment, resolved when the run starts or ends. The clock is the `now`
passed to the passes; the database, the channel layer and django-q2's scheduler pass are real."""

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule

from councilors.incidents import (
    LATE_MESSAGE,
    MISSED_RUN_ONCE_MESSAGE,
    MISSED_SKIP_MESSAGE,
    STUCK_FLOOR_S,
    councilor_slots_missed,
    run_incidents_check,
    stuck_limit_s,
)
from councilors.models import Councilor, Execution, RunIncident
from councilors.scheduling import scheduler_tick
from councilors.services import councilor_run_guarded, execution_finish, execution_start
from tests.factories import make_councilor

pytestmark = pytest.mark.django_db(transaction=True)  # two loops: two threads, two connections

ALERT = "system_alert"


def two_loops(step: Callable[[], Any]) -> None:
    """Run `step` in two threads released at the same moment, as two clusters' loops would."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def look() -> None:
        from django.db import connection

        try:
            barrier.wait(timeout=10)
            step()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=look) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors


def incident_alerts(listener, councilor: Councilor) -> list[dict]:
    return [
        e
        for e in listener.drain(quiet_for=0.5)
        if e["type"] == ALERT and (e["data"].get("details") or {}).get("councilor_id") == councilor.councilor_id
    ]


def with_past_slot(councilor: Councilor, *, slot: datetime) -> None:
    """The councilor's schedule last fell due at `slot` (django-q2 made its task), set up long before."""
    councilor.refresh_from_db()
    Schedule.objects.filter(pk=councilor.q_schedule_id).update(next_run=slot + timedelta(minutes=1), task="t")
    Councilor.objects.filter(pk=councilor.pk).update(updated_at=slot - timedelta(hours=1))


def running_since(councilor: Councilor, started_at: datetime) -> Execution:
    execution = execution_start(agent=councilor.agent, councilor=councilor, prompt="p")
    Execution.objects.filter(pk=execution.pk).update(started_at=started_at)
    execution.refresh_from_db()
    return execution


def finished_runs(councilor: Councilor, *, seconds: float, count: int, before: datetime) -> None:
    for n in range(count):
        execution = running_since(councilor, before - timedelta(hours=n + 1))
        execution.started_at = timezone.now() - timedelta(seconds=seconds)
        execution_finish(execution=execution, output="ok")
        Execution.objects.filter(pk=execution.pk).update(started_at=before - timedelta(hours=n + 1))


# ---------------------------------------------------------------------------------------------- late


def test_a_late_councilor_raises_one_warning_and_one_email_with_two_loops_looking(listener, settings, client):
    settings.COUNCILORS_NOTIFY_EMAILS = ["ops@example.com"]
    councilor = make_councilor(
        title="Backup", schedule_value="1m", grace_s=120, notification_channels=["panel", "email"]
    )
    slot = timezone.now() - timedelta(minutes=10)
    with_past_slot(councilor, slot=slot)

    assert run_incidents_check(now=slot + timedelta(seconds=119)).raised == []  # within its grace period
    two_loops(lambda: run_incidents_check(now=slot + timedelta(seconds=121)))
    run_incidents_check(now=slot + timedelta(seconds=200))  # a later pass: the same incident

    incident = RunIncident.objects.get(councilor=councilor)
    assert (incident.kind, incident.key, incident.resolved_at) == ("late", slot.isoformat(), None)
    alerts = incident_alerts(listener, councilor)
    assert len(alerts) == 1
    data = alerts[0]["data"]
    assert data["level"] == "warning"
    assert data["message"] == LATE_MESSAGE.format(title="Backup", due=slot.isoformat(), grace=120)
    assert data["details"]["incident"] == "late"
    assert data["details"]["url"] == f"/agents/{councilor.councilor_id}/"
    assert len(mail.outbox) == 1 and f"/agents/{councilor.councilor_id}/" in mail.outbox[0].body


def test_a_late_councilor_shows_late_until_its_run_starts(admin_client):
    councilor = make_councilor(schedule_value="1m", grace_s=60)
    slot = timezone.now() - timedelta(minutes=10)
    with_past_slot(councilor, slot=slot)
    run_incidents_check(now=slot + timedelta(minutes=2))

    def shown() -> list[str]:
        rows = admin_client.get("/api/councilors").json()
        return next(row["incidents"] for row in rows if row["councilor_id"] == councilor.councilor_id)

    assert shown() == ["late"]
    execution_start(agent=councilor.agent, councilor=councilor, prompt="p", scheduled_for=slot)
    assert RunIncident.objects.get(councilor=councilor).resolved_at is not None
    assert shown() == []


def test_a_worker_s_start_resolves_a_late_incident_and_without_one_writes_none():
    """A worker's start reads, with the councilor's locked row, whether it has an incident to resolve."""
    late, on_time = make_councilor(schedule_value="1m", grace_s=60), make_councilor(schedule_value="1m", grace_s=60)
    slot = timezone.now() - timedelta(minutes=10)
    with_past_slot(late, slot=slot)
    run_incidents_check(now=slot + timedelta(minutes=2))
    assert RunIncident.objects.get(councilor=late).resolved_at is None

    assert isinstance(councilor_run_guarded(councilor_pk=late.pk, scheduled_for=slot), Execution)
    assert RunIncident.objects.get(councilor=late).resolved_at is not None
    with CaptureQueriesContext(connection) as queries:
        assert isinstance(councilor_run_guarded(councilor_pk=on_time.pk, scheduled_for=slot), Execution)
    writes = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("UPDATE")]
    assert writes and not any("councilors_runincident" in sql for sql in writes)


def test_a_slot_that_started_or_a_schedule_changed_since_is_not_late(listener):
    started = make_councilor(schedule_value="1m", grace_s=60)
    changed = make_councilor(schedule_value="1m", grace_s=60)
    slot = timezone.now() - timedelta(minutes=10)
    with_past_slot(started, slot=slot)
    with_past_slot(changed, slot=slot)
    execution_start(agent=started.agent, councilor=started, prompt="p", scheduled_for=slot)
    Councilor.objects.filter(pk=changed.pk).update(updated_at=slot + timedelta(seconds=1))
    assert run_incidents_check(now=slot + timedelta(minutes=5)).raised == []
    assert not RunIncident.objects.exists()


# --------------------------------------------------------------------------------------------- stuck


def test_a_run_past_max_duration_is_stuck_once_and_resolved_when_it_ends(listener):
    councilor = make_councilor(title="Scan", max_duration_s=600)
    started = timezone.now() - timedelta(hours=1)
    execution = running_since(councilor, started)

    assert run_incidents_check(now=started + timedelta(seconds=600)).raised == []
    two_loops(lambda: run_incidents_check(now=started + timedelta(seconds=601)))

    incident = RunIncident.objects.get(councilor=councilor)
    assert (incident.kind, incident.key, incident.execution_id) == ("stuck", execution.execution_id, execution.pk)
    alerts = incident_alerts(listener, councilor)
    assert [a["data"]["level"] for a in alerts] == ["critical"]
    assert alerts[0]["data"]["details"]["limit_s"] == 600
    execution_finish(execution=execution, output="done at last")
    incident.refresh_from_db()
    assert incident.resolved_at is not None


def test_a_short_run_ends_without_an_incident_query_and_the_pass_resolves_what_slips_by():
    """A run far shorter than any stuck limit skips the resolve at its end (most runs); should a stuck
    incident exist anyway (clocks apart, a limit lowered mid-run), the next pass resolves it."""
    councilor = make_councilor(title="Scan", max_duration_s=600)
    started = timezone.now()
    execution = running_since(councilor, started)
    [incident] = run_incidents_check(now=started + timedelta(seconds=601)).raised  # a checker's clock far ahead
    with CaptureQueriesContext(connection) as queries:
        execution_finish(execution=execution, output="quick")
    assert not any("councilors_runincident" in query["sql"] for query in queries.captured_queries)
    incident.refresh_from_db()
    assert incident.resolved_at is None
    assert run_incidents_check(now=timezone.now()).resolved == 1
    incident.refresh_from_db()
    assert incident.resolved_at is not None


def test_without_max_duration_stuck_is_three_times_the_median_of_recent_runs():
    councilor = make_councilor()
    assert stuck_limit_s(councilor=councilor) is None  # no history: never guessed
    finished_runs(councilor, seconds=100, count=3, before=timezone.now())
    assert stuck_limit_s(councilor=councilor) == 300
    started = timezone.now() - timedelta(hours=1)
    execution = running_since(councilor, started)
    assert run_incidents_check(now=started + timedelta(seconds=299)).raised == []
    [incident] = run_incidents_check(now=started + timedelta(seconds=301)).raised
    assert incident.execution_id == execution.pk

    quick = make_councilor()
    finished_runs(quick, seconds=2, count=3, before=timezone.now())
    assert stuck_limit_s(councilor=quick) == STUCK_FLOOR_S


# -------------------------------------------------------------------------------------------- missed


def _down_for(councilor: Councilor, *, minutes: int, catch_up: str) -> datetime:
    """The councilor (every minute) was last due `minutes` ago: no cluster ran since. Returns now."""
    Councilor.objects.filter(pk=councilor.pk).update(catch_up=catch_up)
    councilor.refresh_from_db()
    now = timezone.now()
    Schedule.objects.filter(pk=councilor.q_schedule_id).update(next_run=now - timedelta(minutes=minutes, seconds=30))
    return now


def test_missed_slots_with_run_once_run_one_catch_up_run(listener):
    councilor = make_councilor(title="Heartbeat", schedule_value="1m", grace_s=0)
    now = _down_for(councilor, minutes=10, catch_up=Councilor.CatchUp.RUN_ONCE)

    two_loops(lambda: councilor_slots_missed(now=now))

    incident = RunIncident.objects.get(councilor=councilor, kind="missed")
    assert incident.details["slots"] == 11
    assert incident.details["catch_up"] == "run_once"
    alerts = incident_alerts(listener, councilor)
    assert [a["data"]["message"] for a in alerts] == [MISSED_RUN_ONCE_MESSAGE.format(title="Heartbeat", count=11)]
    # django-q2's own pass then turns the first missed slot into one task, and moves on past now.
    assert scheduler_tick(broker=get_broker())
    assert OrmQ.objects.count() == 1
    schedule = Schedule.objects.get(pk=councilor.q_schedule_id)
    assert schedule.next_run > now
    assert not scheduler_tick(broker=get_broker())
    # The catch-up slot was reported missed: it is not reported late as well.
    assert run_incidents_check(now=now + timedelta(minutes=5)).raised == []


def test_missed_slots_with_skip_are_recorded_and_the_schedule_moves_on(listener):
    councilor = make_councilor(title="Heartbeat", schedule_value="1m")
    now = _down_for(councilor, minutes=4, catch_up=Councilor.CatchUp.SKIP)

    two_loops(lambda: councilor_slots_missed(now=now))

    incident = RunIncident.objects.get(councilor=councilor, kind="missed")
    assert incident.details["slots"] == 5
    assert [a["data"]["message"] for a in incident_alerts(listener, councilor)] == [
        MISSED_SKIP_MESSAGE.format(title="Heartbeat", count=5)
    ]
    schedule = Schedule.objects.get(pk=councilor.q_schedule_id)
    assert now < schedule.next_run <= now + timedelta(minutes=1)
    assert not scheduler_tick(broker=get_broker())  # nothing due: no run for the skipped slots
    assert not OrmQ.objects.exists()


def test_a_schedule_kept_current_by_a_running_cluster_misses_nothing():
    councilor = make_councilor(schedule_value="1m")
    now = _down_for(councilor, minutes=0, catch_up=Councilor.CatchUp.SKIP)  # 30 s behind: a pass is due
    assert councilor_slots_missed(now=now) == []


def test_the_pass_resolves_what_the_services_did_not_see():
    late = make_councilor(schedule_value="1m", grace_s=60)
    paused = make_councilor(schedule_value="1m", grace_s=60)
    slot = timezone.now() - timedelta(minutes=10)
    for councilor in (late, paused):
        with_past_slot(councilor, slot=slot)
    run_incidents_check(now=slot + timedelta(minutes=2))
    assert RunIncident.objects.filter(resolved_at__isnull=True).count() == 2
    # A run recorded without the services (a queued run moved on by hand), and a pause.
    execution = running_since(late, slot + timedelta(minutes=3))
    RunIncident.objects.filter(councilor=late).update(resolved_at=None)
    Execution.objects.filter(pk=execution.pk).update(started_at=slot + timedelta(minutes=3))
    Councilor.objects.filter(pk=paused.pk).update(enabled=False)
    found = run_incidents_check(now=slot + timedelta(minutes=4))
    assert found.resolved == 2
    assert not RunIncident.objects.filter(resolved_at__isnull=True).exists()


def test_a_cron_councilor_s_missed_slots_and_late_start_follow_its_cron_times(settings):
    settings.TIME_ZONE = "America/Sao_Paulo"  # cron times are the project's local times, as django-q2's
    councilor = make_councilor(schedule_type=Councilor.ScheduleType.CRON, schedule_value="*/5 * * * *", grace_s=60)
    Councilor.objects.filter(pk=councilor.pk).update(catch_up=Councilor.CatchUp.SKIP)
    councilor.refresh_from_db()
    first = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=1)
    first -= timedelta(minutes=first.minute % 5)
    Schedule.objects.filter(pk=councilor.q_schedule_id).update(next_run=first)
    now = first + timedelta(minutes=21)
    [missed] = councilor_slots_missed(now=now)
    assert missed.details["slots"] == 5  # :00, :05, :10, :15, :20
    schedule = Schedule.objects.get(pk=councilor.q_schedule_id)
    assert schedule.next_run == first + timedelta(minutes=25)

    Schedule.objects.filter(pk=councilor.q_schedule_id).update(task="t")  # django-q2 ran the :25 slot...
    Councilor.objects.filter(pk=councilor.pk).update(updated_at=first)
    Schedule.objects.filter(pk=councilor.q_schedule_id).update(next_run=first + timedelta(minutes=30))
    [late] = run_incidents_check(now=first + timedelta(minutes=26, seconds=1)).raised  # ...no run started
    assert late.key == (first + timedelta(minutes=25)).isoformat()
