"""Writes: creating agents and councilors, running them, pausing and resuming (thin edges call these)."""

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import CharField, Field, Model
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from councilors.app_settings import app_settings
from councilors.audit import Actor, action_record_create
from councilors.cancel_watch import cancel_watched
from councilors.concurrency import START_TASK as START_QUEUED_TASK
from councilors.concurrency import queued_claim, queued_may_wait, queued_waiting, run_admitted
from councilors.incidents import run_incidents_resolve
from councilors.models import ActionRecord, Agent, Councilor, Execution, SkippedRun
from councilors.output_stream import OutputPublisher
from councilors.retries import Retry, councilor_run_ended, retry_abandoned
from councilors.run_rows import councilor_row_lock, execution_insert, execution_update
from councilors.runners import RunnerError, get_runner
from councilors.runners.base import OutputCallback, RunCancelled, RunControl, RunTimedOut
from councilors.runners.bounded import TRUNCATION_SLACK, bound_text
from councilors.scheduling import councilor_schedule_delete, councilor_schedule_sync
from councilors.selectors import REQUESTED_BY_ARG, agent_metrics_and_cap, worker_clusters_alive
from councilors.severity import analyze_severity
from gamification import payloads
from gamification.events import emit, emit_all
from infrastructure.app_settings import app_settings as rate_settings
from infrastructure.rate_limits import execute_rate_take

logger = logging.getLogger(__name__)

DATABASE_LOST = "database connection lost while the run was in flight: %(error)s"
# Pauses before each new try to record a run whose database connection died (about 15 s in all:
# long enough for a PostgreSQL restart or fail-over, short of holding a worker for long).
FINISH_RETRY_PAUSES_S = (0.5, 1.0, 2.0, 4.0, 8.0)
# Kept by councilors.scheduling, not by callers: a copy read before a pause may name a schedule
# that is gone, and the sync that follows every save puts it right.
SYNCED_FIELDS = {"q_schedule"}
TOGGLE_WITHOUT_ACTOR = "Pausing or resuming {councilor_id!r} needs an actor: every pause and resume is recorded."
# An error is a reason, not output: a runner's (an exception's text) is cut to this, since it is
# stored and broadcast in `councilor_error` to every client.
ERROR_MAX_CHARS = 4000
ERROR_TRUNCATED = " [error truncated]"
# A run asked for from the web (the admin's "Run now") obeys the API's rules (docs/security.md).
RUN_PERMISSION = "councilors.run_agent"
NO_WORKER = _(
    "No worker cluster is running, and a run asked for here never runs inside the web server: "
    "start one (manage.py qcluster) and try again. Nothing was run."
)
RUN_FORBIDDEN = _("You need the %(permission)s permission to run an agent.")
AGENT_NOT_AVAILABLE = _(
    '%(agent)s is not available through the API: tick "Available through the API" on the agent to allow '
    "runs by hand and over HTTP. Nothing was run."
)
RUN_RATE_LIMITED = _(
    "Too many runs: at most %(limit)s per %(window)s seconds for each user (API_EXECUTE_RATE_LIMIT, counted "
    "together with the API's execute). Try again later; nothing was run."
)


def new_execution_id(*, agent_id: str) -> str:
    """`exec_<agent>_<ms>_<random>`: the milliseconds read well, the suffix keeps ids unique."""
    return f"exec_{agent_id}_{int(time.time() * 1000)}_{secrets.token_hex(3)}"


def agent_save(*, agent: Agent) -> Agent:
    """Write a new or edited agent after full validation (ValidationError names the bad field)."""
    agent.full_clean()
    agent.save()
    return agent


def agent_create(**fields: Any) -> Agent:
    """Create an agent after full validation (ValidationError names the bad field)."""
    return agent_save(agent=Agent(**fields))


def councilor_save(*, councilor: Councilor, actor: Actor | None = None) -> Councilor:
    """Write a new or edited councilor after full validation; its schedule follows, in one transaction.

    Turning `enabled` off or on here is a pause or resume like any other: recorded as done by
    `actor` and announced (after commit). The admin's forms hand their edited instance straight to this.
    """
    councilor.full_clean(exclude=SYNCED_FIELDS)
    return _councilor_write(councilor=councilor, actor=actor)


def councilor_create(*, agent: Agent, **fields: Any) -> Councilor:
    """Promote `agent` to a councilor after full validation; an enabled one gets its schedule."""
    return councilor_save(councilor=Councilor(agent=agent, **fields))


def _councilor_write(
    *, councilor: Councilor, actor: Actor | None, update_fields: list[str] | None = None, announce: bool = False
) -> Councilor:
    """Save, bring the schedule in step, record and announce a pause or resume: all or nothing.

    Whether `enabled` changed is read from the stored row (locked), not from the instance: a form
    has already put its new values on it. `announce` forces the announcement (an explicit pause
    or resume is news even when the councilor already was paused or running).
    """
    with transaction.atomic():
        was_enabled = _stored_enabled(councilor)
        councilor.save(update_fields=update_fields)
        councilor_schedule_sync(councilor=councilor)
        if announce or (was_enabled is not None and was_enabled != councilor.enabled):
            _toggle_record_and_announce(councilor=councilor, actor=actor)
    return councilor


def _toggle_record_and_announce(*, councilor: Councilor, actor: Actor | None) -> None:
    """Record a pause or resume and announce it (once the caller's transaction commits)."""
    if actor is None:
        raise ValueError(TOGGLE_WITHOUT_ACTOR.format(councilor_id=councilor.councilor_id))
    action = ActionRecord.Action.RESUME if councilor.enabled else ActionRecord.Action.PAUSE
    action_record_create(actor=actor, action=action, target=councilor.councilor_id)
    toggled = payloads.councilor_resumed if councilor.enabled else payloads.councilor_paused
    emit(*toggled(councilor_id=councilor.councilor_id, by=actor.name))


def _stored_enabled(councilor: Councilor) -> bool | None:
    """`enabled` as stored (None for a new councilor); the row stays locked until the transaction ends."""
    if councilor.pk is None:
        return None
    return (
        Councilor.objects.select_for_update(no_key=True)
        .filter(pk=councilor.pk)
        .values_list("enabled", flat=True)
        .first()
    )


def councilor_delete(*, councilor: Councilor) -> None:
    """Delete a councilor and its schedule (its agent and execution history stay)."""
    with transaction.atomic():
        councilor_schedule_delete(councilor=councilor)
        councilor.delete()


def agent_promote(*, agent: Agent) -> Councilor:
    """Make a councilor of an agent with a default hourly schedule (admins edit it afterwards)."""
    return councilor_create(
        agent=agent,
        title=agent.label,
        schedule_type=Councilor.ScheduleType.INTERVAL,
        schedule_value="1h",
        task_name=f"{agent.label} review",
        task_prompt=agent.description or f"Run {agent.label}.",
        enabled=False,
    )


def _set_enabled(*, councilor: Councilor, enabled: bool, actor: Actor) -> Councilor:
    # Only `enabled` is written: a copy read a while ago must not put back fields changed since.
    councilor.enabled = enabled
    return _councilor_write(councilor=councilor, actor=actor, update_fields=["enabled", "updated_at"], announce=True)


def councilor_pause(*, councilor: Councilor, actor: Actor) -> Councilor:
    """Stop a councilor's scheduled runs (its schedule is removed), record who did it and tell everyone."""
    return _set_enabled(councilor=councilor, enabled=False, actor=actor)


def councilor_resume(*, councilor: Councilor, actor: Actor) -> Councilor:
    """Restart a councilor's scheduled runs (first due one period from now), record who did it and tell everyone."""
    return _set_enabled(councilor=councilor, enabled=True, actor=actor)


def _run_described(execution: Execution) -> payloads.Run:
    """The run as its events describe it (gamification/payloads.py picks the event family)."""
    agent, councilor = execution.agent, execution.councilor
    return payloads.Run(
        execution_id=execution.execution_id,
        agent_id=agent.agent_id,
        agent_name=agent.label,
        emoji=agent.emoji,
        started_at=execution.started_at,
        run_number=execution.run_number,
        attempt=execution.attempt,
        max_attempts=execution.max_attempts,
        councilor_task=(
            (councilor.task_name, councilor.title)
            if execution.kind == Execution.Kind.COUNCILOR and councilor is not None
            else None
        ),
        instance_id=execution.instance_id,
        requester=execution.requested_by_id,
    )


def _finished_event(execution: Execution) -> payloads.Event:
    end = payloads.RunEnd(
        status=execution.status,
        severity=execution.severity,
        completed_at=execution.completed_at,
        duration_ms=execution.duration_ms,
        error=execution.error,
        cancelled_by=execution.cancelled_by_name,
    )
    return payloads.run_finished(_run_described(execution), end)


# Only the record's strings are checked here, before they are written: SQLite enforces no length,
# and a string over its limit must be a clear error on every database. The rest the database
# enforces on every write (foreign keys, check constraints on the choices, positive integers), and
# Django's full_clean, which checked each field again (and each constraint with a query of its own),
# twice per run, was a visible part of a worker's time on a trivial run (bench/runs.py's profile).
@cache
def _checked_fields(model: type[Model]) -> tuple[Field, ...]:
    return tuple(field for field in model._meta.concrete_fields if isinstance(field, CharField))


def _fields_checked(execution: Execution) -> None:
    """The record's strings validated (length, blank, choices); raises ValidationError naming each bad one."""
    errors = {}
    for field in _checked_fields(Execution):
        try:
            field.clean(getattr(execution, field.attname), execution)
        except ValidationError as exc:
            errors[field.name] = exc.error_list
    if errors:
        raise ValidationError(errors)


def execution_start(
    *,
    agent: Agent,
    prompt: str,
    councilor: Councilor | None = None,
    instance_id: str = "",
    execution_id: str | None = None,
    scheduled_for: datetime | None = None,
    worker: str = "",
    requested_by: Any = None,
    attempt: int = 1,
    max_attempts: int = 1,
    first_attempt: Execution | None = None,
    queued: bool = False,
) -> Execution:
    """Write the `running` record (with who asked for it, if anyone did) and announce it.

    `queued`: the run is over a concurrency cap; it is recorded `queued`, announced when it starts.
    """
    execution = Execution(
        execution_id=execution_id or new_execution_id(agent_id=agent.agent_id),
        agent=agent,
        attempt=attempt,
        max_attempts=max_attempts,
        first_attempt=first_attempt,
        councilor=councilor,
        kind=Execution.Kind.COUNCILOR if councilor else Execution.Kind.AGENT,
        instance_id=instance_id,
        prompt=prompt,
        status=Execution.Status.QUEUED if queued else Execution.Status.RUNNING,
        started_at=timezone.now(),
        scheduled_for=scheduled_for,
        worker="" if queued else worker,
        requested_by=requested_by,
    )
    _fields_checked(execution)
    execution_insert(execution)
    if not queued:
        run_incidents_resolve(execution=execution)  # a late councilor started: the incident is over
        emit(*payloads.run_started(_run_described(execution)))
    return execution


def queued_run_start(*, worker: str) -> Execution | None:
    """Start the oldest queued run there is room for, exactly once across clusters; None when none fits."""
    with transaction.atomic():
        execution = queued_claim(worker=worker)
        if execution is None:
            return None
        execution.status = Execution.Status.RUNNING
        execution.started_at = timezone.now()  # a queued run's started_at was when it was queued
        execution.worker = worker
        _fields_checked(execution)
        execution.save(update_fields=["status", "started_at", "worker", "updated_at"])
        run_incidents_resolve(execution=execution)
        emit(*payloads.run_started(_run_described(execution)))
    logger.info("queued run %s started on %s", execution.execution_id, worker)
    return execution


def queued_runs_kick_after(*, outcome: object) -> bool:
    """After a worker's run task: if it ended a run (not skipped, not left queued over a cap), the
    place it freed may let a queued run start (`queued_runs_kick`)."""
    if isinstance(outcome, Execution) and outcome.status not in Execution.IN_FLIGHT:
        return queued_runs_kick(agent=outcome.agent, worker=outcome.worker)
    return False


def queued_runs_kick(*, agent: Agent, worker: str) -> bool:
    """After a run of `agent` ends: queue a start task when a queued run waits for the place it freed."""
    from django_q.tasks import async_task

    if not queued_may_wait(agent=agent, worker=worker):  # most runs: no transaction, no lock, no query
        return False
    with transaction.atomic():
        if not queued_waiting(agent=agent, worker=worker):
            return False
        async_task(START_QUEUED_TASK)
    return True


def execution_run_started(*, execution: Execution) -> Execution:
    """Run an execution just started from the queue: a councilor's with its retries and notifications."""
    if execution.kind == Execution.Kind.COUNCILOR:
        return councilor_execution_run(execution=execution)
    return execution_run(execution=execution)


# What a finish writes (fewer columns than the whole row: cheaper to build and to write). The
# cancel's fields are the finisher's view: who stopped the run as its watcher saw it, or none — a
# cancel asked for after the watcher's last look came too late and is not the run's end (the
# action record keeps the request).
FINISH_FIELDS = (
    "completed_at",
    "duration_ms",
    "output",
    "error",
    "status",
    "severity",
    *Execution.CANCEL_REQUEST_FIELDS,
    "updated_at",
)


def execution_finish(*, execution: Execution, output: str, error: str = "", status: str | None = None) -> Execution:
    """Record how a run ended (status, severity, timings) and announce it with fresh metrics.

    `status` defaults to `error` when there is an error, else `completed`; a run stopped by its
    timeout or by a cancel passes `timed_out` or `cancelled` (with its reason in `error`).
    """
    execution.completed_at = timezone.now()
    execution.duration_ms = max(0, int((execution.completed_at - execution.started_at).total_seconds() * 1000))
    execution.output = _output_bounded(output)
    execution.error = error if len(error) <= ERROR_MAX_CHARS else error[:ERROR_MAX_CHARS] + ERROR_TRUNCATED
    execution.status = status or (Execution.Status.ERROR if error else Execution.Status.COMPLETED)
    failed = execution.status != Execution.Status.COMPLETED
    execution.severity = analyze_severity(output=output, failed=failed)
    _fields_checked(execution)
    # No transaction of its own (its BEGIN and COMMIT were two of a trivial run's round trips): the
    # update is one statement, on record as it returns; a stuck incident left open by a failure
    # after it is the pass's to resolve (run_incidents_resolve_stale), and the events still follow
    # the update's commit (or the caller's transaction's).
    execution_update(execution, FINISH_FIELDS)
    run_incidents_resolve(execution=execution)  # a stuck run ended
    # The agent's cap as it is now comes with its metrics: whether the run's end may let a queued
    # run start (queued_runs_kick) needs no statement of its own.
    metrics, execution.agent.max_concurrent = agent_metrics_and_cap(agent=execution.agent)
    emit_all(
        _finished_event(execution),
        payloads.agent_metrics_updated(agent_id=execution.agent.agent_id, metrics=metrics),
    )
    return execution


def _output_bounded(output: str) -> str:
    """The output as stored: bounded whoever produced it.

    Runners bound their output as it comes (for memory and the live stream); what they return is
    within the limit plus the marker and is left as it is (bounding it twice could move the marker).
    """
    if len(output) <= app_settings.OUTPUT_MAX_BYTES // 4:  # 4 bytes at most per character: surely within
        return output
    if len(output.encode("utf-8", "surrogatepass")) <= app_settings.OUTPUT_MAX_BYTES + TRUNCATION_SLACK:
        return output
    return bound_text(output)


def execution_run(
    *, execution: Execution, on_output: OutputCallback | None = None, control: RunControl | None = None
) -> Execution:
    """Run a started execution's agent, publish its output live (SSE), and finish the record.

    `control` is the run's stop request and timeout; by default the councilor's `timeout_s`, if set,
    overrides the agent's.
    """
    if control is None:
        councilor = execution.councilor
        control = RunControl(timeout_s=councilor.timeout_s if councilor is not None else None)
    publisher = OutputPublisher(execution_id=execution.execution_id, forward=on_output)
    finished = _execution_run_and_finish(execution=execution, on_output=publisher, control=control)
    publisher.end(status=finished.status, severity=finished.severity)
    return finished


def _execution_run_and_finish(*, execution: Execution, on_output: OutputCallback, control: RunControl) -> Execution:
    """Run the agent and finish the record, whatever the runner does."""
    agent, councilor = execution.agent, execution.councilor
    context = {
        "agent_id": agent.agent_id,
        "instance_id": execution.instance_id,
        "execution_id": execution.execution_id,
        "context_files": councilor.context_files if councilor else [],
        "output_format": councilor.output_format if councilor else "",
    }
    try:
        with cancel_watched(execution=execution, control=control):
            output = get_runner(agent.runner, agent.runner_config).run(execution.prompt, context, on_output, control)
    except RunTimedOut as exc:
        return _finish_recorded(
            execution=execution, output=exc.output, error=exc.reason, status=Execution.Status.TIMED_OUT
        )
    except RunCancelled as exc:
        return _finish_recorded(
            execution=execution, output=exc.output, error=exc.reason, status=Execution.Status.CANCELLED
        )
    except RunnerError as exc:
        return _finish_recorded(execution=execution, output=exc.output, error=exc.reason)
    except Exception as exc:  # noqa: BLE001 - a runner bug is this run's error, never a crashed worker
        logger.exception("runner %s crashed for %s", agent.runner, execution.execution_id)
        return _finish_recorded(execution=execution, output="", error=f"{type(exc).__name__}: {exc}")
    return _finish_recorded(execution=execution, output=output)


def _finish_recorded(*, execution: Execution, output: str, error: str = "", status: str | None = None) -> Execution:
    """`execution_finish`, surviving a database connection that died under the run.

    When PostgreSQL restarts mid-run the worker's connection is gone and the finish fails; the run
    would then stay `running` until the reaper's long timeout. Instead, reconnect and record it as
    `error` with the reason (the output is kept), trying for a while as the server comes back.
    """
    try:
        return execution_finish(execution=execution, output=output, error=error, status=status)
    except (OperationalError, InterfaceError) as exc:
        if connection.in_atomic_block:  # the caller's transaction is lost with it; it must handle that
            raise
        lost = DATABASE_LOST % {"error": str(exc).strip() or type(exc).__name__}
        logger.warning("execution %s: %s; recording it once the database answers", execution.execution_id, lost)
    for pause in FINISH_RETRY_PAUSES_S:
        time.sleep(pause)
        connection.close()  # drop the dead connection; the next query opens a new one
        try:
            return execution_finish(execution=execution, output=output, error=lost)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("execution %s still not recorded (%s)", execution.execution_id, exc)
    return execution_finish(execution=execution, output=output, error=lost)


def agent_run(
    *,
    agent: Agent,
    prompt: str,
    instance_id: str = "",
    execution_id: str | None = None,
    worker: str = "",
    requested_by: Any = None,
) -> Execution:
    """Run an agent once, outside any schedule, and return its finished execution (or its `queued` one)."""
    with transaction.atomic():
        execution = execution_start(
            agent=agent,
            prompt=prompt,
            instance_id=instance_id,
            execution_id=execution_id,
            worker=worker,
            requested_by=requested_by,
            queued=not run_admitted(agent=agent, worker=worker),
        )
    if execution.status == Execution.Status.QUEUED:
        return execution
    return execution_run(execution=execution)


def councilor_run(*, councilor: Councilor, execution_id: str | None = None) -> Execution | SkippedRun | None:
    """Run a councilor's task once, here and now, through a worker's own guarded path (`councilor_run_guarded`).

    For a shell or a script on a machine without a worker cluster: the run is recorded, announced,
    notified and guarded against overlap exactly as a worker's is.
    """
    return councilor_run_guarded(councilor_pk=councilor.pk, execution_id=execution_id)


def councilor_execution_run(*, execution: Execution) -> Execution:
    """Run a started councilor execution, then retry it, or alert and e-mail as its councilor asks."""
    execution = execution_run(execution=execution)
    return councilor_run_ended(execution=execution)


def _skip(
    councilor: Councilor,
    reason: str,
    *,
    scheduled_for: datetime | None,
    execution_id: str | None,
    running: Execution | None = None,
) -> SkippedRun:
    skipped = SkippedRun.objects.create(
        councilor=councilor,
        reason=reason,
        scheduled_for=scheduled_for,
        execution_id=execution_id or "",
        running_execution=running,
    )
    logger.warning(
        "councilor %s: run due %s skipped (%s)%s",
        councilor.councilor_id,
        scheduled_for.isoformat() if scheduled_for else "now",
        skipped.get_reason_display(),
        f"; {running.execution_id} is still running" if running else "",
    )
    return skipped


def councilor_run_guarded(
    *,
    councilor_pk: int,
    execution_id: str | None = None,
    scheduled_for: datetime | None = None,
    worker: str = "",
    requested_by: Any = None,
    actor: Actor | None = None,
    retry: Retry | None = None,
) -> Execution | SkippedRun | None:
    """A worker's run of a councilor: skipped (and recorded) when it would overlap or repeat a run.

    Scheduled runs (with `scheduled_for`) and retries are also skipped when the councilor was paused
    after the task was queued. `actor`, for a run asked for here and now, is recorded with its start
    or skip; `retry` says which attempt of a failed run this is (councilors.retries).
    Returns the finished execution, the SkippedRun, or None if the councilor is gone.
    """
    outcome = _councilor_start_guarded(
        councilor_pk=councilor_pk,
        execution_id=execution_id,
        scheduled_for=scheduled_for,
        worker=worker,
        requested_by=requested_by,
        actor=actor,
        retry=retry,
    )
    if isinstance(outcome, Execution):
        if outcome.status == Execution.Status.QUEUED:
            return outcome  # over a cap: a worker starts it when a place frees (councilors.concurrency)
        return councilor_execution_run(execution=outcome)
    if retry is not None and isinstance(outcome, SkippedRun) and outcome.reason != SkippedRun.Reason.DUPLICATE:
        retry_abandoned(retry=retry)
    return outcome


def _councilor_start_guarded(
    *,
    councilor_pk: int,
    execution_id: str | None,
    scheduled_for: datetime | None,
    worker: str,
    requested_by: Any,
    actor: Actor | None,
    retry: Retry | None,
) -> Execution | SkippedRun | None:
    """The checks and the start of `councilor_run_guarded`, in one transaction under the councilor's row lock."""
    with transaction.atomic():
        # The councilor's row lock makes "is one running?" and "start mine" one step across clusters.
        # NO KEY UPDATE (PostgreSQL): guarded runs exclude each other, but inserting a row that
        # refers to the councilor (another path's run, a skip, an incident) is not held up, so a
        # path that locks the agent first cannot deadlock with this one on the reference.
        councilor = councilor_row_lock(councilor_pk)
        if councilor is None:
            logger.warning("councilor #%s no longer exists; run due %s dropped", councilor_pk, scheduled_for)
            return None
        if actor is not None:
            run_now = ActionRecord.Action.RUN_NOW
            action_record_create(
                actor=actor, action=run_now, target=councilor.councilor_id, execution_id=execution_id or ""
            )
        if (scheduled_for is not None or retry is not None) and not councilor.enabled:
            return _skip(councilor, SkippedRun.Reason.PAUSED, scheduled_for=scheduled_for, execution_id=execution_id)
        if retry is not None and _attempt_exists(retry):  # a retry task the broker delivered twice
            return _skip(councilor, SkippedRun.Reason.DUPLICATE, scheduled_for=None, execution_id=None)
        clashing = _clashing_runs(councilor_pk=councilor.pk, scheduled_for=scheduled_for)
        running_pk = next((pk for pk, status, _same_due in clashing if status in Execution.IN_FLIGHT), None)
        if running_pk is not None:
            return _skip(
                councilor,
                SkippedRun.Reason.OVERLAP,
                scheduled_for=scheduled_for,
                execution_id=execution_id,
                running=Execution.objects.get(pk=running_pk),
            )
        # A task the broker delivers again (its first worker died) finds its own record here.
        repeated = Execution.objects.filter(execution_id=execution_id).exists() if execution_id else False
        if repeated or any(same_due for _pk, _status, same_due in clashing):
            # The first delivery's record keeps this id; the skip note must not claim it too.
            return _skip(councilor, SkippedRun.Reason.DUPLICATE, scheduled_for=scheduled_for, execution_id=None)
        return execution_start(
            agent=councilor.agent,
            councilor=councilor,
            prompt=councilor.task_prompt,
            execution_id=execution_id,
            scheduled_for=scheduled_for,
            worker=worker,
            queued=not run_admitted(agent=councilor.agent, worker=worker),
            **_attempt_fields(councilor, retry, requested_by),
        )


def _clashing_runs(*, councilor_pk: int, scheduled_for: datetime | None) -> list[tuple[int, str, bool]]:
    """`(pk, status, due at scheduled_for)` of the councilor's oldest runs in flight or due at `scheduled_for`.

    One read answers "is one running?" and "did this due time run?": a councilor has at most one run
    in flight and one per due time (a unique constraint), so the two oldest such rows hold the oldest
    in-flight one whenever there is one. Written out: every run's start makes it, and building it with
    the ORM cost the worker more CPU than the database's answer (bench/runs.py's profile).
    """
    in_flight = ", ".join(["%s"] * len(Execution.IN_FLIGHT))
    table = Execution._meta.db_table
    if scheduled_for is None:
        sql = f"SELECT id, status, 0 FROM {table} WHERE councilor_id = %s AND status IN ({in_flight})"
        params: list[Any] = [councilor_pk, *Execution.IN_FLIGHT]
    else:
        due = connection.ops.adapt_datetimefield_value(scheduled_for)
        sql = (
            f"SELECT id, status, scheduled_for IS NOT NULL AND scheduled_for = %s FROM {table}"
            f" WHERE councilor_id = %s AND (status IN ({in_flight}) OR scheduled_for = %s)"
        )
        params = [due, councilor_pk, *Execution.IN_FLIGHT, due]
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY started_at, id LIMIT 2", params)
        return [(pk, status, bool(same_due)) for pk, status, same_due in cursor.fetchall()]


def _attempt_exists(retry: Retry) -> bool:
    return Execution.objects.filter(first_attempt_id=retry.first_attempt_pk, attempt=retry.attempt).exists()


def _attempt_fields(councilor: Councilor, retry: Retry | None, requested_by: Any) -> dict[str, Any]:
    """A first run may take `max_retries` more attempts; a retry carries its chain's numbers and requester."""
    if retry is None:
        return {"attempt": 1, "max_attempts": councilor.max_retries + 1, "requested_by": requested_by}
    first = Execution.objects.select_related("requested_by").filter(pk=retry.first_attempt_pk).first()
    return {
        "attempt": retry.attempt,
        "max_attempts": retry.max_attempts,
        "first_attempt": first,
        "requested_by": first.requested_by if first is not None else requested_by,
    }


def councilor_enqueue(*, councilor: Councilor, actor: Actor) -> str:
    """Queue one run of `councilor` for a worker, recorded as asked for by `actor`; returns its execution id."""
    from django_q.tasks import async_task

    execution_id = new_execution_id(agent_id=councilor.councilor_id)
    # The ORM broker's queue is a table: the record and the queued task commit together.
    with transaction.atomic():
        action_record_create(
            actor=actor, action=ActionRecord.Action.RUN_NOW, target=councilor.councilor_id, execution_id=execution_id
        )
        async_task(
            "councilors.tasks.run_councilor_task",
            councilor.councilor_id,
            execution_id,
            task_name=execution_id,
            **{REQUESTED_BY_ARG: actor.user_id},
        )
    return execution_id


def agent_enqueue(
    *, agent: Agent, prompt: str, actor: Actor, instance_id: str = "", action: str = ActionRecord.Action.EXECUTE
) -> str:
    """Queue one run of `agent` for a worker, recorded as `action` by `actor`; returns its execution id."""
    from django_q.tasks import async_task

    execution_id = new_execution_id(agent_id=agent.agent_id)
    with transaction.atomic():
        action_record_create(actor=actor, action=action, target=agent.agent_id, execution_id=execution_id)
        async_task(
            "councilors.tasks.run_agent_task",
            agent.agent_id,
            prompt,
            instance_id,
            execution_id,
            task_name=execution_id,
            **{REQUESTED_BY_ARG: actor.user_id},
        )
    return execution_id


@dataclass(frozen=True)
class RunNow:
    """What `councilor_run_now` did: queued the run, ran it here (`execution`), or skipped it (`skipped`)."""

    execution_id: str
    execution: Execution | None = None
    skipped: SkippedRun | None = None

    @property
    def queued(self) -> bool:
        return self.execution is None and self.skipped is None


def councilor_run_now(*, councilor: Councilor, actor: Actor) -> RunNow:
    """Queue a run for a live worker cluster; with none alive, run it in this process and now.

    Either way the run goes through the same overlap guard as a worker's, so a run by hand never
    overlaps a scheduled one, and it is recorded as asked for by `actor`.
    """
    if worker_clusters_alive():
        return RunNow(execution_id=councilor_enqueue(councilor=councilor, actor=actor))
    execution_id = new_execution_id(agent_id=councilor.councilor_id)
    outcome = councilor_run_guarded(
        councilor_pk=councilor.pk, execution_id=execution_id, requested_by=actor.user, actor=actor
    )
    if isinstance(outcome, SkippedRun):
        return RunNow(execution_id=execution_id, skipped=outcome)
    return RunNow(execution_id=execution_id, execution=outcome)


class RunRefused(Exception):
    """A run asked for from the web that its rules do not allow: nothing was queued or recorded; the text says why."""


def _web_run_allowed() -> None:
    # A web request never runs agent code in the web process (a gateway must not block on, or
    # share its rights with, a run): without a worker cluster to queue for, the answer is no.
    if not worker_clusters_alive():
        raise RunRefused(gettext(NO_WORKER))


def councilor_run_requested(*, councilor: Councilor, actor: Actor) -> RunNow:
    """A web request's "Run now" of a councilor: queued for a live worker cluster, else RunRefused.

    (`councilor_run_now`, for the `run_councilor` command in its own process, runs it there instead.)
    """
    _web_run_allowed()
    return RunNow(execution_id=councilor_enqueue(councilor=councilor, actor=actor))


def agent_run_allowed(*, agent: Agent, actor: Actor) -> None:
    """The rules of running an agent from the web; RunRefused says which failed (passing spends one of the limit)."""
    user = actor.user
    if user is None or not user.has_perm(RUN_PERMISSION):
        raise RunRefused(gettext(RUN_FORBIDDEN) % {"permission": RUN_PERMISSION})
    if not agent.api_enabled:
        raise RunRefused(gettext(AGENT_NOT_AVAILABLE) % {"agent": agent.label})
    _web_run_allowed()
    if not execute_rate_take(user_id=user.pk):
        limits = {"limit": rate_settings.EXECUTE_RATE_LIMIT, "window": rate_settings.EXECUTE_RATE_WINDOW_S}
        raise RunRefused(gettext(RUN_RATE_LIMITED) % limits)


def agent_run_now(*, agent: Agent, prompt: str, actor: Actor, instance_id: str = "") -> RunNow:
    """The admin's "Run now" of an agent, under the API's `execute` rules; RunRefused says which one failed.

    The actor needs `councilors.run_agent`, the agent must be available through the API, a worker
    cluster must be alive (the run is queued for it, never run here), and the run counts in the
    actor's `execute` rate limit (API_EXECUTE_RATE_LIMIT, the same Redis bucket as the API's).
    """
    agent_run_allowed(agent=agent, actor=actor)
    run_now = ActionRecord.Action.RUN_NOW
    execution_id = agent_enqueue(agent=agent, prompt=prompt, actor=actor, instance_id=instance_id, action=run_now)
    return RunNow(execution_id=execution_id)
