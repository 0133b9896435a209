"""Cancelling a run: who may, and what each state of the run answers (docs/http-api.md, "Cancel it").

- a run still waiting (a `queued` record, or its task still in django-q2's queue with no record yet)
  ends at once as `cancelled`: its record is finished and announced, and the worker that later picks
  its task finds it ended and runs nothing (`execution_ended_before_start`);
- a `running` run gets `cancel_requested_at` and who asked; the worker running it, on whatever
  machine, sees that within a fraction of a second (councilors.cancel_watch) and stops it, and the
  run ends `cancelled` with the output so far;
- a finished run is left as it is: the answer says it already ended, and how.

The run's row is locked while its state is read and changed, so a cancel and the run's own end
(or its start, for a queued one) are one after the other: a run ends in exactly one final state.
"""

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from councilors.audit import Actor, action_record_create
from councilors.models import ActionRecord, Agent, Execution
from councilors.runners.base import CANCELLED
from councilors.selectors import QUEUE_SCAN_LIMIT, QueuedRun, execution_queued, execution_visible_to, is_lookup_id
from councilors.services import execution_finish

CANCEL_PERMISSION = "councilors.cancel_execution"


class Outcome:
    """What a cancel did: the run ended now, its worker is stopping it, or it had ended already."""

    CANCELLED = "cancelled"
    CANCELLING = "cancelling"
    ALREADY_ENDED = "already_ended"


MSG_CANCELLED = _("%(run)s was cancelled before it started.")
MSG_CANCELLING = _("%(run)s is being stopped: its worker ends it within 2 seconds.")
MSG_ALREADY_ENDED = _("%(run)s already ended (%(status)s): there is nothing to cancel.")
MSG_NOT_FOUND = _("No run %(execution_id)s that you may see.")
MSG_FORBIDDEN = _(
    "You may cancel only the runs you asked for; cancelling others' needs the councilors.cancel_execution permission."
)
# Shown in the answers: the run as people name it (`Heartbeat #128`).
RUN_TITLE = _("%(agent)s #%(number)s")


class CancelRefused(Exception):
    """A cancel that may not happen: `code` is not_found (the user may not see the run) or forbidden."""

    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CancelResult:
    """A cancel's answer: `outcome` (Outcome), the run's `status` now, and a sentence saying so."""

    execution_id: str
    outcome: str
    status: str
    run_title: str
    message: str


def run_title(execution: Execution) -> str:
    """`Heartbeat #128`: the run as people name it (the execution_id stays its identifier).

    A councilor's run goes by the councilor's title, as everywhere on the dashboard; others by the agent's name.
    """
    name = execution.councilor.title if execution.councilor is not None else execution.agent.label
    return str(RUN_TITLE) % {"agent": name, "number": execution.run_number}


def may_cancel(*, execution: Execution | QueuedRun, actor: Actor) -> bool:
    """The requester may cancel their run; anyone else needs councilors.cancel_execution (a shell may, as for pause)."""
    if actor.user is None:
        return actor.source == ActionRecord.Source.COMMAND
    return user_may_cancel(execution=execution, user=actor.user)


def user_may_cancel(*, execution: Execution | QueuedRun, user: Any) -> bool:
    """Whether `user` may cancel the run (whatever its state): they asked for it, or hold the cancel permission."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    requested_by_id = execution.requested_by_id
    return (requested_by_id is not None and requested_by_id == user.pk) or user.has_perm(CANCEL_PERMISSION)


def execution_cancel(*, execution_id: str, actor: Actor) -> CancelResult:
    """Cancel the run `execution_id` for `actor` (recorded); CancelRefused when they may not see or cancel it."""
    if not is_lookup_id(execution_id):
        raise _not_found(execution_id)
    try:
        with transaction.atomic():
            return _cancel_locked(execution_id=execution_id, actor=actor)
    except IntegrityError:
        # Its worker wrote the record as this cancel wrote one for the task still in the queue:
        # the run is running now, and a second look finds it so.
        with transaction.atomic():
            return _cancel_locked(execution_id=execution_id, actor=actor)


def _cancel_locked(*, execution_id: str, actor: Actor) -> CancelResult:
    execution = (
        Execution.objects.select_for_update(of=("self",))
        .select_related("agent", "councilor")
        .filter(execution_id=execution_id)
        .first()
    )
    if execution is None:
        queued = execution_queued(execution_id=execution_id)
        if queued is None:
            raise _not_found(execution_id)
        _check_allowed(execution=queued, actor=actor)
        agent = Agent.objects.select_related("councilor").filter(agent_id=queued.agent_id).first()
        if agent is None:  # deleted while its run waited: its worker will drop the task
            raise _not_found(execution_id)
        execution = _record_from_queue(queued, agent)
    else:
        _check_allowed(execution=execution, actor=actor)
    title = run_title(execution)
    if execution.status not in Execution.IN_FLIGHT:
        status = execution.get_status_display()
        message = str(MSG_ALREADY_ENDED) % {"run": title, "status": status}
        return CancelResult(execution_id, Outcome.ALREADY_ENDED, execution.status, title, message)
    action_record_create(
        actor=actor, action=ActionRecord.Action.CANCEL, target=execution.agent.agent_id, execution_id=execution_id
    )
    _mark_requested(execution, actor)
    if execution.status == Execution.Status.QUEUED:
        cancelled = Execution.Status.CANCELLED
        execution_finish(execution=execution, output=execution.output, error=CANCELLED, status=cancelled)
        message = str(MSG_CANCELLED) % {"run": title}
        return CancelResult(execution_id, Outcome.CANCELLED, execution.status, title, message)
    execution.save(update_fields=[*Execution.CANCEL_REQUEST_FIELDS, "updated_at"])
    return CancelResult(execution_id, Outcome.CANCELLING, execution.status, title, str(MSG_CANCELLING) % {"run": title})


def _mark_requested(execution: Execution, actor: Actor) -> None:
    # A second cancel of a run already being stopped keeps the first one's time and name.
    if execution.cancel_requested_at is None:
        execution.cancel_requested_at = timezone.now()
        execution.cancelled_by = actor.user
        execution.cancelled_by_name = actor.name


def _check_allowed(*, execution: Execution | QueuedRun, actor: Actor) -> None:
    if may_cancel(execution=execution, actor=actor):
        return
    if execution_visible_to(execution=execution, user=actor.user):
        raise CancelRefused(CancelRefused.FORBIDDEN, str(MSG_FORBIDDEN))
    raise _not_found(execution.execution_id)


def _not_found(execution_id: str) -> CancelRefused:
    return CancelRefused(CancelRefused.NOT_FOUND, str(MSG_NOT_FOUND) % {"execution_id": execution_id})


def _record_from_queue(queued: QueuedRun, agent: Agent) -> Execution:
    """The `queued` record of a run whose task still waits in django-q2's queue (written so it can end cancelled)."""
    task = _queued_task(queued.execution_id)
    args = (task.args() or ()) if task is not None else ()
    is_councilor_task = task is not None and str(task.func()).endswith("run_councilor_task")
    councilor = getattr(agent, "councilor", None) if is_councilor_task else None
    execution = Execution(
        execution_id=queued.execution_id,
        agent=agent,
        councilor=councilor,
        kind=Execution.Kind.COUNCILOR if councilor is not None else Execution.Kind.AGENT,
        # The agent task's arguments are (agent_id, prompt, instance_id, execution_id).
        prompt=councilor.task_prompt if councilor is not None else str(args[1]) if len(args) > 1 else "",
        status=Execution.Status.QUEUED,
        started_at=timezone.now(),
        requested_by_id=queued.requested_by_id,
    )
    execution.full_clean(validate_unique=False)  # the unique execution_id is the database's to enforce
    execution.save()
    return execution


def _queued_task(execution_id: str) -> Any:
    from django_q.models import OrmQ

    for task in OrmQ.objects.order_by("-pk")[:QUEUE_SCAN_LIMIT]:
        if task.name() == execution_id:
            return task
    return None


def execution_ended_before_start(*, execution_id: str | None) -> Execution | None:
    """For a worker about to run a queued task: the run's record if it already ended (cancelled while queued)."""
    if not execution_id:
        return None
    return Execution.objects.filter(execution_id=execution_id).exclude(status__in=Execution.IN_FLIGHT).first()
