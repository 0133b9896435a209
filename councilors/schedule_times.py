"""When a councilor runs next: django-q2's schedule when there is one, else computed from the schedule."""

import re
from datetime import datetime, timedelta

from croniter import croniter
from django.utils import timezone

from councilors.models import Councilor

INTERVAL_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
RUN_TASK_MODULE = "councilors."


def interval_delta(value: str) -> timedelta:
    """`30m` → 30 minutes (the value is validated by the model)."""
    match = re.fullmatch(r"(\d+)([mhd])", value)
    return timedelta(**{INTERVAL_UNITS[match.group(2)]: int(match.group(1))})


def computed_next_run(*, councilor: Councilor, last_started: datetime | None, now: datetime) -> datetime:
    """The next due time from the schedule value alone (used when no django-q2 schedule exists)."""
    if councilor.schedule_type == Councilor.ScheduleType.CRON:
        return croniter(councilor.schedule_value, timezone.localtime(now)).get_next(datetime)
    due = (last_started or now) + interval_delta(councilor.schedule_value)
    return max(due, now)


def _names_councilor(schedule, councilor_id: str) -> bool:
    # For schedules not linked from the councilor: the scheduling code names them after the
    # councilor or passes its id as an argument; both are read so no one convention is assumed.
    quoted = repr(councilor_id)
    name = schedule.name or ""
    return (
        quoted in (schedule.args or "")
        or quoted in (schedule.kwargs or "")
        or name == councilor_id
        or name.startswith((f"Councilor {councilor_id}:", f"councilor:{councilor_id}"))
        or name.endswith((f":{councilor_id}", f"-{councilor_id}", f"_{councilor_id}", f" {councilor_id}"))
    )


def schedule_next_runs(*, councilors: list[Councilor]) -> dict[str, datetime]:
    """next_run of the django-q2 schedule of each councilor that has one (its `q_schedule` link first)."""
    from django_q.models import Schedule

    found: dict[str, datetime] = {}
    # getattr: the link is the scheduling code's field, read here without depending on it.
    linked = {c.q_schedule_id: c.councilor_id for c in councilors if getattr(c, "q_schedule_id", None)}
    for pk, next_run in Schedule.objects.filter(pk__in=linked, next_run__isnull=False).values_list("pk", "next_run"):
        found[linked[pk]] = next_run
    unlinked = [c.councilor_id for c in councilors if c.councilor_id not in found]
    if not unlinked:
        return found
    schedules = Schedule.objects.filter(func__startswith=RUN_TASK_MODULE, next_run__isnull=False).exclude(repeats=0)
    for schedule in schedules:
        for councilor_id in unlinked:
            if councilor_id not in found and _names_councilor(schedule, councilor_id):
                found[councilor_id] = schedule.next_run
    return found
