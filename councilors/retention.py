"""Retention: executions older than COUNCILORS_KEEP_RUNS_DAYS, beyond each agent's newest
COUNCILORS_KEEP_RUNS_MIN, are deleted (docs/operations.md, "Retention").

`manage.py prune_runs` and a daily django-q2 schedule (made by every `run_cluster` at start,
`prune_schedule_ensure`) call `executions_prune`. It deletes in batches of primary keys, each its
own short transaction, so no lock is held for long and the runs being recorded meanwhile never
wait more than one batch; queued and running runs are never touched, and an agent's newest run is
always kept, so a run number is never given twice (Execution.save numbers from the newest kept).
Metrics and trends are read from the executions that remain (councilors/selectors.py), never
from counters, so they stay right over what is kept.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, models, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django_q.models import Schedule

from councilors.app_settings import app_settings
from councilors.audit import Actor, action_record_create
from councilors.models import ActionRecord, Agent, Execution

logger = logging.getLogger(__name__)

PRUNE_BATCH = 1000
# After each batch the prune waits this many times as long as the batch took: it then takes at most
# half of a core and of the disk's time from the runs being recorded beside it, and backs off
# further by itself on a loaded machine (bench/prune.py: docs/benchmarks.md, "Pruning old runs").
PRUNE_THROTTLE = 1.0
PRUNE_TASK = "councilors.tasks.prune_runs_task"
PRUNE_SCHEDULE_NAME = "Conductor: prune old runs"
BAD_KEEP_DAYS = gettext_noop("COUNCILORS_KEEP_RUNS_DAYS must be a whole number of days, 1 or more (it is {value!r}).")
BAD_KEEP_MIN = gettext_noop(
    "COUNCILORS_KEEP_RUNS_MIN must be 1 or more, so an agent's newest run is kept (it is {value!r})."
)
BAD_BATCH = gettext_noop("The batch size must be between 1 and 10000 (it is {value!r}).")
BAD_THROTTLE = gettext_noop("The throttle must be between 0 and 100 (it is {value!r}).")
THROTTLE_MAX = 100.0
BATCH_MAX = 10_000  # one IN list per batch: well under SQLite's 32,766 parameters


class RetentionError(ValueError):
    """A retention setting or option that cannot be used; the message says which and why."""

    def __init__(self, template: str, value: object) -> None:
        super().__init__(template.format(value=value))
        self.template, self.value = template, value

    def translated(self) -> str:
        """The message in the active language (the template is marked for translation)."""
        return gettext(self.template).format(value=self.value)


@dataclass
class PruneResult:
    """Runs deleted (or, in a dry run, that would be) per agent_id, and the batches it took."""

    per_agent: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.per_agent.values())


def retention_limits() -> tuple[int, int]:
    """(days, newest runs kept per agent) from the settings, or RetentionError naming the bad one."""
    days, keep = app_settings.KEEP_RUNS_DAYS, app_settings.KEEP_RUNS_MIN
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise RetentionError(BAD_KEEP_DAYS, days)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise RetentionError(BAD_KEEP_MIN, keep)
    return days, keep


def prunable(*, agent: Agent, older_than: datetime, keep: int) -> QuerySet[Execution]:
    """The agent's finished runs that started before `older_than` and are not among its newest `keep`."""
    numbers = agent.executions.order_by("-run_number").values_list("run_number", flat=True)
    kept_from = numbers[keep - 1 : keep].first()
    if kept_from is None:  # fewer runs than it keeps
        return Execution.objects.none()
    return Execution.objects.filter(agent=agent, run_number__lt=kept_from, started_at__lt=older_than).exclude(
        status__in=Execution.IN_FLIGHT
    )


def executions_prune(
    *,
    actor: Actor,
    dry_run: bool = False,
    batch_size: int = PRUNE_BATCH,
    throttle: float = PRUNE_THROTTLE,
    now: datetime | None = None,
    on_agent: Callable[[str, int], None] | None = None,
) -> PruneResult:
    """Delete old runs agent by agent, `batch_size` at a time; each agent pruned is recorded as a PRUNE action."""
    if not 1 <= batch_size <= BATCH_MAX:
        raise RetentionError(BAD_BATCH, batch_size)
    if not 0 <= throttle <= THROTTLE_MAX:
        raise RetentionError(BAD_THROTTLE, throttle)
    days, keep = retention_limits()
    older_than = (now or timezone.now()) - timedelta(days=days)
    result = PruneResult(dry_run=dry_run)
    for agent in Agent.objects.order_by("agent_id"):
        queryset = prunable(agent=agent, older_than=older_than, keep=keep)
        count = queryset.count() if dry_run else _delete_in_batches(queryset, batch_size, throttle, result)
        if count:
            result.per_agent[agent.agent_id] = count
            if on_agent is not None:
                on_agent(agent.agent_id, count)
    if not dry_run:
        # One record per agent whose runs went (the record's target is an agent_id, as for every action).
        with transaction.atomic():
            for agent_id in result.per_agent:
                action_record_create(actor=actor, action=ActionRecord.Action.PRUNE, target=agent_id)
        logger.info("pruned %d runs in %d batches", result.total, result.batches)
    return result


def _delete_in_batches(queryset: QuerySet[Execution], batch_size: int, throttle: float, result: PruneResult) -> int:
    """Delete the rows of `queryset` by primary key, oldest first, one short transaction per batch."""
    deleted, after = 0, 0
    while True:
        started = time.monotonic()
        pks = list(queryset.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        deleted += _delete_batch(pks)
        result.batches += 1
        after = pks[-1]
        if throttle:
            time.sleep(throttle * (time.monotonic() - started))


def _delete_batch(pks: list[int]) -> int:
    """Delete these runs (those still finished) in one transaction; returns how many went.

    What Django's delete() does, without loading each row as an object first (most of a batch's
    cost, and CPU taken from the workers on the same machine): the references to the runs (a
    retry's first attempt, an incident's or a skipped run's run) are cleared as their
    `on_delete=SET_NULL` says, then the rows go by primary key. A relation of any other kind
    (added later) sends the batch through delete(), which knows them all.
    """
    with transaction.atomic():
        finished = Execution.objects.select_for_update().filter(pk__in=pks).exclude(status__in=Execution.IN_FLIGHT)
        kept = list(finished.values_list("pk", flat=True))
        relations = _references()
        if not kept or any(relation.on_delete is not models.SET_NULL for relation in relations):
            return finished.delete()[1].get(Execution._meta.label, 0) if kept else 0
        for relation in relations:
            name = relation.field.name
            relation.related_model._base_manager.filter(**{f"{name}__in": kept}).update(**{name: None})
        table, key = (
            connection.ops.quote_name(Execution._meta.db_table),
            connection.ops.quote_name(str(Execution._meta.pk.column)),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE {key} IN ({', '.join(['%s'] * len(kept))})",  # noqa: S608 - names from the model
                kept,
            )
            return cursor.rowcount


def _references() -> list:
    """The relations pointing at executions, hidden ones (related_name="+") too."""
    return [
        field
        for field in Execution._meta.get_fields(include_hidden=True)
        if (field.one_to_many or field.one_to_one) and field.auto_created and not field.concrete
    ]


def prune_schedule_ensure() -> Schedule:
    """The daily prune's django-q2 schedule, made once (every `run_cluster` calls this at start)."""
    schedule = Schedule.objects.filter(func=PRUNE_TASK).order_by("pk").first()
    if schedule is None:
        schedule = Schedule.objects.create(
            name=PRUNE_SCHEDULE_NAME,
            func=PRUNE_TASK,
            schedule_type=Schedule.DAILY,
            repeats=-1,
            next_run=timezone.now() + timedelta(days=1),
        )
    # Two clusters starting at once may both have made one: the oldest stays.
    Schedule.objects.filter(func=PRUNE_TASK).exclude(pk=schedule.pk).delete()
    return schedule
