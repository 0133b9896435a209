"""Late starts, stuck runs and slots missed while no worker was up (healthchecks.io's grace periods).

docs/scheduling.md, "Late, stuck and missed", says what each means for an operator.

Every `run_cluster` loop calls `run_incidents_check` beside the reaper (councilors/cluster_loop.py),
and `councilor_slots_missed` before its first scheduler pass, so the slots a stopped deployment
missed are judged before django-q2 moves the schedules on. Each incident is one RunIncident row
whose unique key (the due time, or the stuck run's id) makes it raise its `system_alert` and its
notification exactly once, however many clusters look at the same moment. The services resolve
incidents as runs start and end (`run_incidents_resolve`); the pass resolves what they could not
see (a councilor paused, a run closed by hand).
"""

import logging
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from councilors.app_settings import app_settings
from councilors.models import Councilor, Execution, RunIncident, SkippedRun
from councilors.notifications import councilor_incident_notify
from gamification import payloads
from gamification.events import emit

logger = logging.getLogger(__name__)

INCIDENT_SOURCE = "councilors"
# The alert texts (English, as every system_alert message is; the dashboard labels the state itself).
LATE_MESSAGE = "{title} is late: due at {due}, not started {grace}s later"
STUCK_MESSAGE = "{title}: run #{run_number} has been running for {seconds}s (limit {limit}s)"
MISSED_RUN_ONCE_MESSAGE = "{title} missed {count} scheduled runs while no worker was up; running once to catch up"
MISSED_SKIP_MESSAGE = "{title} missed {count} scheduled runs while no worker was up; skipped"
LEVELS: dict[str, payloads.AlertLevel] = {"late": "warning", "stuck": "critical", "missed": "critical"}
# A run with no max_duration_s is stuck when it runs this many times longer than the median of its
# councilor's last STUCK_SAMPLE finished runs (at least STUCK_MIN_SAMPLE of them), and never sooner
# than STUCK_FLOOR_S: a councilor whose runs take 2 s is not stuck at 7 s.
STUCK_FACTOR = 3
STUCK_SAMPLE = 20
STUCK_MIN_SAMPLE = 3
STUCK_FLOOR_S = 60
# Slots counted one by one for a cron schedule at most (an outage of weeks on `* * * * *`).
MISSED_COUNT_MAX = 10_000


@dataclass(frozen=True)
class IncidentsFound:
    """What one pass raised and resolved."""

    raised: list[RunIncident]
    resolved: int


def councilor_url(councilor: Councilor) -> str:
    """The councilor's page, where its runs and state are (`/agents/<id>/`)."""
    return reverse("agent_detail", kwargs={"agent_id": councilor.councilor_id})


def run_incidents_check(*, now: datetime | None = None) -> IncidentsFound:
    """One pass: raise late and stuck incidents not raised yet, resolve those that are over."""
    now = now or timezone.now()
    resolved = run_incidents_resolve_stale(now=now)
    raised = [*councilors_late_check(now=now), *executions_stuck_check(now=now)]
    return IncidentsFound(raised=raised, resolved=resolved)


# ---------------------------------------------------------------------------------------------- late


def previous_slot(*, schedule: Schedule) -> datetime | None:
    """The due time before the schedule's next_run: the slot django-q2 last turned into a task."""
    if schedule.next_run is None:
        return None
    if schedule.schedule_type == Schedule.CRON:
        # In UTC, as every key and detail is: the same instant must make the same key on every cluster.
        return croniter(schedule.cron, timezone.localtime(schedule.next_run)).get_prev(datetime).astimezone(UTC)
    return schedule.next_run - timedelta(minutes=schedule.minutes or 1)


def councilors_late_check(*, now: datetime) -> list[RunIncident]:
    """Raise `late` for each enabled councilor whose last due time + grace_s passed without a run starting."""
    raised = []
    councilors = Councilor.objects.filter(enabled=True, q_schedule__task__isnull=False).select_related(
        "agent", "q_schedule"
    )
    for councilor in councilors:
        slot = previous_slot(schedule=councilor.q_schedule)
        if slot is None or slot + timedelta(seconds=councilor.grace_s) > now or not _slot_is_real(councilor, slot):
            continue
        if _slot_started(councilor, slot):
            continue
        incident = _raise(
            councilor=councilor,
            kind=RunIncident.Kind.LATE,
            key=slot.isoformat(),
            now=now,
            message=LATE_MESSAGE.format(title=councilor.title, due=slot.isoformat(), grace=councilor.grace_s),
            details={"due_at": slot.isoformat(), "grace_s": councilor.grace_s},
        )
        raised += [incident] if incident else []
    return raised


def _slot_is_real(councilor: Councilor, slot: datetime) -> bool:
    """False when the schedule was made or changed after `slot` (that time never was a due time of it),
    or when the slot was already reported missed (one outage is one incident, not two)."""
    if councilor.updated_at > slot:
        return False
    return not councilor.incidents.filter(kind=RunIncident.Kind.MISSED, raised_at__gte=slot).exists()


def _slot_started(councilor: Councilor, slot: datetime) -> bool:
    """A run for the slot (or any run since) started, or the slot was skipped for a reason of its own."""
    started = councilor.executions.exclude(status=Execution.Status.QUEUED)
    if started.filter(Q(scheduled_for=slot) | Q(started_at__gte=slot)).exists():
        return True
    return SkippedRun.objects.filter(councilor=councilor, scheduled_for=slot).exists()


# --------------------------------------------------------------------------------------------- stuck


def stuck_limit_s(*, councilor: Councilor) -> int | None:
    """Seconds after which a run of `councilor` is stuck: max_duration_s, else from its recent runs; None: unknown."""
    if councilor.max_duration_s:
        return councilor.max_duration_s
    durations = [
        duration
        for duration in councilor.executions.filter(status=Execution.Status.COMPLETED, duration_ms__isnull=False)
        .order_by("-started_at")
        .values_list("duration_ms", flat=True)[:STUCK_SAMPLE]
        if duration is not None
    ]
    if len(durations) < STUCK_MIN_SAMPLE:
        return None
    return max(STUCK_FLOOR_S, round(STUCK_FACTOR * statistics.median(durations) / 1000))


def executions_stuck_check(*, now: datetime) -> list[RunIncident]:
    """Raise `stuck` for each running councilor run older than its limit (`stuck_limit_s`)."""
    raised = []
    running = Execution.objects.filter(status=Execution.Status.RUNNING, councilor__isnull=False).select_related(
        "councilor", "councilor__agent"
    )
    for execution in running:
        councilor = execution.councilor
        assert councilor is not None  # noqa: S101 - filtered above; for the type checker
        limit = stuck_limit_s(councilor=councilor)
        seconds = int((now - execution.started_at).total_seconds())
        if limit is None or seconds <= limit:
            continue
        incident = _raise(
            councilor=councilor,
            kind=RunIncident.Kind.STUCK,
            key=execution.execution_id,
            now=now,
            execution=execution,
            message=STUCK_MESSAGE.format(
                title=councilor.title, run_number=execution.run_number, seconds=seconds, limit=limit
            ),
            details={"execution_id": execution.execution_id, "running_s": seconds, "limit_s": limit},
        )
        raised += [incident] if incident else []
    return raised


# -------------------------------------------------------------------------------------------- missed


def missed_after() -> timedelta:
    """How far in the past a schedule's next_run must be for its slots to count as missed.

    While any cluster runs, its scheduler pass keeps next_run within a tick of now (stock
    django-q2's within about 30 s); the same span that says "no worker cluster seen" says it here.
    """
    return timedelta(seconds=app_settings.WORKER_ALERT_AFTER_S)


def slots_between(*, schedule: Schedule, start: datetime, now: datetime) -> tuple[int, datetime, datetime]:
    """How many due times from `start` up to `now`, the last of them, and the first one after `now`."""
    if schedule.schedule_type == Schedule.CRON:
        times = croniter(schedule.cron, timezone.localtime(start))
        count, last, following = 1, start, times.get_next(datetime)
        while following <= now and count < MISSED_COUNT_MAX:
            count, last, following = count + 1, following, times.get_next(datetime)
        if following <= now:  # capped: jump to the times around now
            around = croniter(schedule.cron, timezone.localtime(now))
            following = around.get_next(datetime)
            last = around.get_prev(datetime)
        return count, last.astimezone(UTC), following.astimezone(UTC)
    period = timedelta(minutes=schedule.minutes or 1)
    count = int((now - start) / period) + 1
    last = start + (count - 1) * period
    return count, last, last + period


def councilor_slots_missed(*, now: datetime | None = None) -> list[RunIncident]:
    """Judge the slots that passed while no cluster ran: one `missed` incident per outage and councilor.

    `run_once` leaves the first missed slot due: the next scheduler pass runs it once, recorded
    against that due time, and moves the schedule on past now (councilors/scheduling.py), never a
    burst; `skip` moves the schedule to its next due time after now. Returns the incidents raised.
    """
    now = now or timezone.now()
    raised = []
    stale = Schedule.objects.filter(councilor__enabled=True, next_run__lt=now - missed_after()).values_list(
        "pk", flat=True
    )
    for schedule_pk in list(stale):
        incident = _schedule_missed(schedule_pk=schedule_pk, now=now)
        raised += [incident] if incident else []
    return raised


def _schedule_missed(*, schedule_pk: int, now: datetime) -> RunIncident | None:
    with transaction.atomic():
        # The schedule's row lock (also what django-q2's scheduler takes) makes a second cluster
        # starting at the same moment wait and then find next_run moved on.
        schedule = (
            Schedule.objects.select_for_update().filter(pk=schedule_pk, next_run__lt=now - missed_after()).first()
        )
        councilor = Councilor.objects.select_related("agent").filter(q_schedule_id=schedule_pk, enabled=True).first()
        if schedule is None or councilor is None:
            return None
        first = schedule.next_run
        count, last, following = slots_between(schedule=schedule, start=first, now=now)
        skip = councilor.catch_up == Councilor.CatchUp.SKIP
        if skip:
            schedule.next_run = following
            schedule.save(update_fields=["next_run"])
        template = MISSED_SKIP_MESSAGE if skip else MISSED_RUN_ONCE_MESSAGE
        return _raise(
            councilor=councilor,
            kind=RunIncident.Kind.MISSED,
            key=first.astimezone(UTC).isoformat(),
            now=now,
            message=template.format(title=councilor.title, count=count),
            details={
                "slots": count,
                "first_due_at": first.astimezone(UTC).isoformat(),
                "last_due_at": last.isoformat(),
                "catch_up": councilor.catch_up,
                "next_run": schedule.next_run.isoformat(),
            },
        )


# ------------------------------------------------------------------------------------ raise, resolve


def _raise(
    *,
    councilor: Councilor,
    kind: str,
    key: str,
    now: datetime,
    message: str,
    details: dict[str, Any],
    execution: Execution | None = None,
) -> RunIncident | None:
    """Record the incident; the first to record it alerts and notifies (None: it was known already)."""
    with transaction.atomic():
        incident, created = RunIncident.objects.get_or_create(
            councilor=councilor,
            kind=kind,
            key=key,
            defaults={"execution": execution, "details": details, "raised_at": now},
        )
        if not created:
            return None
        emit(
            *payloads.system_alert(
                level=LEVELS[kind],
                message=message,
                source=INCIDENT_SOURCE,
                details={
                    "councilor_id": councilor.councilor_id,
                    "incident": kind,
                    "url": councilor_url(councilor),
                    "channels": list(councilor.notification_channels or []),
                    **details,
                },
            )
        )
        # After the commit, like the alert: no e-mail for an incident rolled back, and none sent
        # while a caller's transaction holds a schedule's row lock.
        url = councilor_url(councilor)
        transaction.on_commit(
            lambda: councilor_incident_notify(councilor=councilor, kind=kind, message=message, url=url)
        )
    logger.warning("councilor %s: %s incident (%s)", councilor.councilor_id, kind, key)
    return incident


def run_incidents_resolve(*, execution: Execution, now: datetime | None = None) -> int:
    """A councilor run started (its late and missed incidents are over) or ended (its stuck one is)."""
    if execution.councilor_id is None:
        return 0
    if execution.status == Execution.Status.RUNNING:
        # A councilor read by `councilor_row_lock` says whether it has any to resolve (most have none).
        if not getattr(execution.councilor, OPEN_START_INCIDENTS, True):
            return 0
        return _started_resolve(councilor_id=execution.councilor_id, now=now or timezone.now())
    if execution.status in Execution.IN_FLIGHT or not _may_have_been_stuck(execution):
        return 0
    over = RunIncident.objects.filter(
        councilor_id=execution.councilor_id, resolved_at__isnull=True, kind=RunIncident.Kind.STUCK, execution=execution
    )
    return over.update(resolved_at=now or timezone.now())


STARTED_RESOLVES = (RunIncident.Kind.LATE.value, RunIncident.Kind.MISSED.value)
# The name under which `councilor_row_lock` annotates a councilor with `open_start_incidents_sql`.
OPEN_START_INCIDENTS = "open_start_incidents"
# A councilor's open incidents that a run's start resolves; `{councilor}` is its primary key's SQL.
_OPEN_STARTED_WHERE = "councilor_id = {councilor} AND resolved_at IS NULL AND kind IN (%s, %s)"


def open_start_incidents_sql(councilor_pk_column: str) -> tuple[str, list[str]]:
    """SQL and parameters: whether the councilor of `councilor_pk_column` has an open incident a start resolves.

    Read with the councilor's row at a run's start, it spares most starts the resolving UPDATE. An
    incident raised after that read and before the start commits is the pass's to resolve
    (`run_incidents_resolve_stale`), as one raised after the UPDATE would have been.
    """
    sql = (
        f"EXISTS (SELECT 1 FROM {connection.ops.quote_name(RunIncident._meta.db_table)}"
        f" WHERE {_OPEN_STARTED_WHERE.format(councilor=councilor_pk_column)})"
    )
    return sql, list(STARTED_RESOLVES)


def _started_resolve(*, councilor_id: int, now: datetime) -> int:
    """Resolve the councilor's open late and missed incidents: every run's start does it, so the statement
    is written out (building it with the ORM cost the worker more CPU than the database's answer)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RunIncident._meta.db_table} SET resolved_at = %s"
            f" WHERE {_OPEN_STARTED_WHERE.format(councilor='%s')}",
            [connection.ops.adapt_datetimefield_value(now), councilor_id, *STARTED_RESOLVES],
        )
        return cursor.rowcount


def _may_have_been_stuck(execution: Execution) -> bool:
    """Whether an ended run ran long enough for a `stuck` incident: no stuck limit is below the councilor's
    max_duration_s, or without one STUCK_FLOOR_S. Shorter runs (most) skip the update: half the limit
    leaves room for clocks apart, and the pass's `run_incidents_resolve_stale` catches whatever slips by."""
    councilor = execution.councilor
    if execution.duration_ms is None or councilor is None:
        return True
    return execution.duration_ms * 2 >= (councilor.max_duration_s or STUCK_FLOOR_S) * 1000


def run_incidents_resolve_stale(*, now: datetime) -> int:
    """Resolve what the services could not see: stuck runs no longer running, late or missed councilors
    that have started a run since (by a path other than `execution_start`), paused councilors' incidents."""
    open_ = RunIncident.objects.filter(resolved_at__isnull=True)
    ended = open_.filter(kind=RunIncident.Kind.STUCK).exclude(execution__status=Execution.Status.RUNNING)
    started_since = Execution.objects.filter(
        councilor=OuterRef("councilor"), started_at__gte=OuterRef("raised_at")
    ).exclude(status=Execution.Status.QUEUED)
    caught_up = open_.filter(kind__in=[RunIncident.Kind.LATE, RunIncident.Kind.MISSED]).filter(Exists(started_since))
    paused = open_.filter(councilor__enabled=False)
    return ended.update(resolved_at=now) + caught_up.update(resolved_at=now) + paused.update(resolved_at=now)
