"""When a councilor runs next: its django-q2 schedule's next_run, else computed from the schedule value."""

import re
from datetime import datetime, timedelta

from croniter import croniter
from django.utils import timezone

from councilors.models import Councilor

INTERVAL_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


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


def schedule_next_runs(*, councilors: list[Councilor]) -> dict[str, datetime]:
    """next_run of each councilor's django-q2 schedule (its `q_schedule`), for those that have one."""
    from django_q.models import Schedule

    linked = {councilor.q_schedule_id: councilor.councilor_id for councilor in councilors if councilor.q_schedule_id}
    rows = Schedule.objects.filter(pk__in=linked, next_run__isnull=False).values_list("pk", "next_run")
    return {linked[pk]: next_run for pk, next_run in rows}
