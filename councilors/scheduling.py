"""Each enabled councilor has exactly one django-q2 Schedule; this module keeps it in step.

django-q2 stays the scheduler of record: its `scheduler()` turns due Schedule rows into tasks on
the ORM broker. Stock django-q2 runs that pass about every 30 s from each cluster's guard loop;
`scheduler_tick` lets the `run_cluster` command run the very same pass every
COUNCILORS_SCHEDULER_TICK_S seconds (see councilors/management/commands/run_cluster.py).
"""

from datetime import datetime, timedelta

from croniter import croniter
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule

from councilors.models import Councilor
from councilors.validators import interval_seconds

RUN_TASK = "councilors.tasks.run_scheduled_councilor_task"
# django-q2 passes the due time to the task under this keyword: the run is recorded against it.
DUE_TIME_KWARG = "scheduled_for"
SCHEDULE_NAME_MAX = 100


def schedule_spec(*, councilor: Councilor) -> dict[str, object]:
    """The Schedule fields that express the councilor's interval or cron expression."""
    if councilor.schedule_type == Councilor.ScheduleType.INTERVAL:
        return {
            "schedule_type": Schedule.MINUTES,
            "minutes": interval_seconds(councilor.schedule_value) // 60,
            "cron": None,
        }
    return {"schedule_type": Schedule.CRON, "minutes": None, "cron": councilor.schedule_value}


def first_run(*, spec: dict[str, object], now: datetime | None = None) -> datetime:
    """When a new or changed schedule is first due: one interval from now, or the cron's next time."""
    now = now or timezone.now()
    if spec["schedule_type"] == Schedule.CRON:
        # django-q2 evaluates cron in the project's time zone too (Schedule.calculate_next_run).
        return croniter(spec["cron"], timezone.localtime(now)).get_next(datetime)
    return now + timedelta(minutes=spec["minutes"])


def _schedule_name(councilor: Councilor) -> str:
    return f"Councilor {councilor.councilor_id}: {councilor.title}"[:SCHEDULE_NAME_MAX]


def councilor_schedule_sync(*, councilor: Councilor) -> Schedule | None:
    """Create, change or remove the councilor's Schedule so it matches the saved councilor."""
    with transaction.atomic():
        # The row lock keeps two concurrent saves from giving one councilor two schedules.
        locked = (
            Councilor.objects.select_for_update(of=("self",), no_key=True)
            .select_related("agent", "q_schedule")
            .get(pk=councilor.pk)
        )
        schedule = locked.q_schedule
        if not locked.enabled:
            if schedule is not None:
                schedule.delete()  # on_delete=SET_NULL clears councilor.q_schedule
            elif locked.q_schedule_id is not None:
                # A save from a stale copy wrote back the id of a schedule that is gone.
                Councilor.objects.filter(pk=locked.pk).update(q_schedule=None)
            councilor.q_schedule = None
            return None
        spec = schedule_spec(councilor=locked)
        if schedule is None:
            schedule = Schedule(func=RUN_TASK, args=repr(locked.pk), intended_date_kwarg=DUE_TIME_KWARG, repeats=-1)
        if schedule.pk is None or any(getattr(schedule, name) != value for name, value in spec.items()):
            for name, value in spec.items():
                setattr(schedule, name, value)
            schedule.next_run = first_run(spec=spec)
        schedule.name = _schedule_name(locked)
        schedule.save()
        if locked.q_schedule_id != schedule.pk:
            Councilor.objects.filter(pk=locked.pk).update(q_schedule=schedule)
        councilor.q_schedule = schedule
        return schedule


def councilor_schedule_due_now(*, councilor: Councilor, now: datetime | None = None) -> None:
    """Make an enabled councilor's schedule due now: its first run comes at the next tick, not a period later.

    The schedule then goes on as usual (django-q2 moves next_run one period on from each run).
    """
    if councilor.q_schedule_id is not None:
        Schedule.objects.filter(pk=councilor.q_schedule_id).update(next_run=now or timezone.now())


def councilor_schedule_delete(*, councilor: Councilor) -> None:
    """Remove the councilor's Schedule (the councilor is being deleted or paused)."""
    if councilor.q_schedule_id is not None:
        Schedule.objects.filter(pk=councilor.q_schedule_id).delete()
        councilor.q_schedule = None


def councilor_next_run(
    *, councilor: Councilor, last_started: datetime | None = None, now: datetime | None = None
) -> datetime | None:
    """When the councilor runs next: its django-q2 schedule's next_run; None while it is paused.

    The API, the dashboard and the admin all answer with this. Pass `last_started` (the latest
    run's start, as `councilors_overview` annotates it) for the estimate below.
    """
    if not councilor.enabled:
        return None
    schedule = _linked_schedule(councilor)
    if schedule is not None and schedule.next_run is not None:
        return schedule.next_run
    # Enabled but without a schedule: its row was deleted behind the services' back, and the
    # reaper's repair (councilor_schedules_repair, every run_cluster) gives it a new one within a
    # tick. Until then this estimates from the schedule value (the cron's next time, or one
    # interval after the last run) rather than answer None, which everywhere means "paused".
    spec = schedule_spec(councilor=councilor)
    now = now or timezone.now()
    if spec["schedule_type"] == Schedule.CRON or last_started is None:
        return first_run(spec=spec, now=now)
    return max(first_run(spec=spec, now=last_started), now)


def _linked_schedule(councilor: Councilor) -> Schedule | None:
    try:
        return councilor.q_schedule  # selected with the councilor by councilors_overview
    except Schedule.DoesNotExist:  # a copy read before a pause names a schedule gone since
        return None


def due_schedules_exist(*, now: datetime | None = None) -> bool:
    """A cheap read before the locking pass, so an idle tick never takes SQLite's write lock."""
    return Schedule.objects.exclude(repeats=0).filter(next_run__lt=now or timezone.now()).exists()


def scheduler_tick(*, broker) -> bool:
    """Run django-q2's own scheduler pass when something is due; True when it ran."""
    from django_q.scheduler import scheduler  # imported late: the module sets Django up on import

    close_old_connections()
    if not due_schedules_exist():
        return False
    # scheduler() locks the due rows (SELECT ... FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on
    # SQLite), enqueues one task per row and moves next_run on in the same transaction, so a
    # second cluster ticking at the same moment waits, re-reads next_run and finds nothing due.
    scheduler(broker=broker)
    return True


def councilor_schedules_repair() -> int:
    """Give each enabled councilor without a schedule one, and take paused ones' away; returns how many changed.

    The services keep schedules in step; this catches what bypassed them, such as a schedule
    deleted in django-q2's own admin pages. Every `run_cluster` runs it with the reaper.
    """
    out_of_step = Councilor.objects.filter(
        Q(enabled=True, q_schedule__isnull=True) | Q(enabled=False, q_schedule__isnull=False)
    )
    changed = 0
    for councilor in out_of_step:
        councilor_schedule_sync(councilor=councilor)
        changed += 1
    return changed
