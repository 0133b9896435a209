"""Agents, the councilors promoted from them, and the execution history of every run (README, "Architecture")."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models.functions import Length
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from councilors import validators
from councilors.runners import RUNNERS

# `task_prompt__length` in the check constraints below.
models.TextField.register_lookup(Length)


EMPTY_VALUES = (None, "", [], {})
RUNNER_CONFIG_NOT_OBJECT = "Runner settings must be a JSON object."


class ValidatedWhenEmpty(models.Model):
    """Runs `validated_when_empty` validators on empty values too.

    Django skips a field's validators on an empty value and only says "This field cannot be
    blank."; for these fields the validator runs anyway, so the message says what is wrong.
    """

    validated_when_empty: dict = {}

    class Meta:
        abstract = True

    def clean_fields(self, exclude: set[str] | None = None) -> None:
        exclude = set(exclude or ())
        errors: dict[str, list[str]] = {}
        for name, validate in self.validated_when_empty.items():
            if name not in exclude and getattr(self, name) in EMPTY_VALUES:
                exclude.add(name)
                try:
                    validate(getattr(self, name))
                except ValidationError as exc:
                    errors[name] = exc.messages
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)


def default_notification_channels() -> list[str]:
    return ["panel"]


class Agent(ValidatedWhenEmpty):
    """Something that does work: a command, an HTTP call to an AI-agent service, or a callable."""

    validated_when_empty = {"color": validators.validate_color}

    class Runner(models.TextChoices):
        COMMAND = "command", _("Command")
        HTTP = "http", _("HTTP (AI-agent service)")
        PYTHON = "python", _("Python callable")

    agent_id = models.SlugField(
        max_length=64,
        unique=True,
        help_text=_("Identifies the agent in events, commands and the API."),
        verbose_name=_("agent id"),
    )
    name = models.CharField(max_length=120, verbose_name=_("name"))
    emoji = models.CharField(max_length=16, default="🤖", blank=True, verbose_name=_("emoji"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    runner = models.CharField(max_length=16, choices=Runner.choices, default=Runner.COMMAND, verbose_name=_("runner"))
    runner_config = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            'command: {"argv": [...], "cwd", "env", "timeout"}; http: {"url", "timeout"}; '
            'python: {"callable": "pkg.module.func", "timeout"}. Timeout in seconds (default 60).'
        ),
        verbose_name=_("runner settings"),
    )
    display_name = models.CharField(max_length=120, blank=True, verbose_name=_("display name"))
    avatar_url = models.URLField(blank=True, verbose_name=_("avatar URL"))
    color = models.CharField(
        max_length=7, default="#4f46e5", validators=[validators.validate_color], verbose_name=_("color")
    )
    # Off by default: an agent runs whatever its runner does, so exposing it to every holder of
    # `councilors.run_agent` is a choice an admin makes per agent, not something a new agent inherits.
    api_enabled = models.BooleanField(
        _("Available through the API"),
        default=False,
        # The admin shows help text unescaped: no angle brackets here.
        help_text=_(
            "Whether users with the run permission may run this agent with the API's execute "
            "endpoint. Off: the API answers as if the agent did not exist."
        ),
    )
    # How many runs of this agent may be in flight at once (councilors never overlap themselves);
    # a run over the cap waits as `queued`. Empty: no cap of its own (the cluster's still applies).
    max_concurrent = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Runs of this agent in flight at once; more wait as queued. Empty: no limit."),
        verbose_name=_("runs at once (most)"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")
        ordering = ["name"]
        permissions = [("run_agent", "Can run agents through the HTTP API")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(runner__in=["command", "http", "python"]), name="agent_runner_valid"
            ),
            models.CheckConstraint(condition=~models.Q(agent_id=""), name="agent_id_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} {self.name}".strip()

    @property
    def label(self) -> str:
        """The name shown to people: the display name when set."""
        return self.display_name or self.name

    def clean_fields(self, exclude: set[str] | None = None) -> None:
        # Runner settings are checked with the fields rather than in clean(), so that a form whose
        # JSON did not even parse (the field is then excluded) is not also told that argv is missing.
        try:
            super().clean_fields(exclude=exclude)
            errors: dict[str, list[str]] = {}
        except ValidationError as exc:
            errors = exc.message_dict
        if "runner_config" not in (exclude or ()) and "runner_config" not in errors:
            try:
                self._validate_runner_config()
            except ValidationError as exc:
                errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)

    def _validate_runner_config(self) -> None:
        if not isinstance(self.runner_config, dict):
            raise ValidationError({"runner_config": RUNNER_CONFIG_NOT_OBJECT})
        if self.runner in RUNNERS:
            RUNNERS[self.runner].validate_config(self.runner_config)


class Councilor(ValidatedWhenEmpty):
    """An agent promoted to run a task on a schedule; identified by its agent's `agent_id`."""

    validated_when_empty = {
        "task_prompt": validators.validate_prompt,
        "notification_channels": validators.validate_notification_channels,
    }

    class ScheduleType(models.TextChoices):
        INTERVAL = "interval", _("Interval")
        CRON = "cron", _("Cron")

    class OutputFormat(models.TextChoices):
        SUMMARY = "summary", _("Summary")
        DETAILED = "detailed", _("Detailed")
        CHECKLIST = "checklist", _("Checklist")

    class CatchUp(models.TextChoices):
        """What happens to slots missed while no worker cluster was up."""

        RUN_ONCE = "run_once", _("Run once")
        SKIP = "skip", _("Skip and record")

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="councilor", verbose_name=_("agent"))
    title = models.CharField(max_length=120, verbose_name=_("title"))
    schedule_type = models.CharField(
        max_length=8, choices=ScheduleType.choices, default=ScheduleType.INTERVAL, verbose_name=_("schedule type")
    )
    schedule_value = models.CharField(
        max_length=120,
        help_text=_("Interval such as 30m, 1h, 2d; or a 5-field cron expression."),
        verbose_name=_("schedule"),
    )
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    task_name = models.CharField(max_length=120, verbose_name=_("task name"))
    task_prompt = models.TextField(validators=[validators.validate_prompt], verbose_name=_("task prompt"))
    context_files = models.JSONField(
        default=list, blank=True, validators=[validators.validate_context_files], verbose_name=_("context files")
    )
    output_format = models.CharField(
        max_length=10, choices=OutputFormat.choices, default=OutputFormat.SUMMARY, verbose_name=_("output format")
    )
    notify_on_success = models.BooleanField(default=False, verbose_name=_("notify on success"))
    notify_on_warning = models.BooleanField(default=True, verbose_name=_("notify on warning"))
    notify_on_error = models.BooleanField(default=True, verbose_name=_("notify on error"))
    notification_channels = models.JSONField(
        default=default_notification_channels,
        validators=[validators.validate_notification_channels],
        verbose_name=_("notification channels"),
    )
    # Run control (issue "Runs under control"; docs/scheduling.md): each empty/zero value means "off".
    timeout_s = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Seconds a run may take; empty: the agent's own timeout."),
        verbose_name=_("timeout (seconds)"),
    )
    max_retries = models.PositiveSmallIntegerField(
        default=0,
        help_text=_("Further attempts after a run ends in error or timed out (never after a cancel)."),
        verbose_name=_("retries (most)"),
    )
    retry_backoff_s = models.PositiveIntegerField(
        default=30,
        help_text=_("Seconds before the first retry; each next one waits twice as long (with jitter)."),
        verbose_name=_("first retry after (seconds)"),
    )
    grace_s = models.PositiveIntegerField(
        default=300,
        help_text=_("Seconds after its due time before a run that has not started is reported late."),
        verbose_name=_("grace period (seconds)"),
    )
    max_duration_s = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Seconds after which a running run is reported stuck; empty: far longer than its recent runs."),
        verbose_name=_("stuck after (seconds)"),
    )
    catch_up = models.CharField(
        max_length=8,
        choices=CatchUp.choices,
        default=CatchUp.RUN_ONCE,
        help_text=_("Slots missed while no worker was up: run once when one is back, or skip them (recorded)."),
        verbose_name=_("missed slots"),
    )
    # The django-q2 schedule that runs this councilor; kept in step by councilors.scheduling.
    q_schedule = models.OneToOneField(
        "django_q.Schedule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="councilor",
        verbose_name=_("django-q2 schedule"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("councilor")
        verbose_name_plural = _("councilors")
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(schedule_type__in=["interval", "cron"]), name="councilor_schedule_type_valid"
            ),
            models.CheckConstraint(condition=~models.Q(schedule_value=""), name="councilor_schedule_value_not_empty"),
            models.CheckConstraint(
                condition=models.Q(output_format__in=["summary", "detailed", "checklist"]),
                name="councilor_output_format_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(task_prompt__length__gt=0, task_prompt__length__lte=validators.PROMPT_MAX_LENGTH),
                name="councilor_task_prompt_length",
            ),
            models.CheckConstraint(
                condition=models.Q(catch_up__in=["run_once", "skip"]), name="councilor_catch_up_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def councilor_id(self) -> str:
        return self.agent.agent_id

    @property
    def schedule_label(self) -> str:
        """The schedule as people read it (in their language): `every 30m` or `cron 0 6 * * 1`."""
        if self.schedule_type == self.ScheduleType.INTERVAL:
            return gettext("every %(interval)s") % {"interval": self.schedule_value}
        return gettext("cron %(expression)s") % {"expression": self.schedule_value}

    def clean(self) -> None:
        validate = (
            validators.validate_interval
            if self.schedule_type == self.ScheduleType.INTERVAL
            else validators.validate_cron
        )
        try:
            validate(self.schedule_value)
        except ValidationError as exc:
            raise ValidationError({"schedule_value": exc.messages}) from exc


class Execution(models.Model):
    """One run of an agent or councilor: written when it starts, finished when it ends."""

    class Kind(models.TextChoices):
        COUNCILOR = "councilor", _("Councilor")
        AGENT = "agent", _("Agent")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        ERROR = "error", _("Error")
        CANCELLED = "cancelled", _("Cancelled")
        TIMED_OUT = "timed_out", _("Timed out")

    # Not finished yet: waiting for a place (queued) or on a worker (running).
    IN_FLIGHT = ("queued", "running")
    # Ended without doing its work: the events report these as failures, severity `error`.
    FAILED = ("error", "cancelled", "timed_out")
    # Who stopped a run and when, written by a cancel's request and again by the run's finish.
    CANCEL_REQUEST_FIELDS = ("cancel_requested_at", "cancelled_by", "cancelled_by_name")

    class Severity(models.TextChoices):
        SUCCESS = "success", _("Success")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")

    execution_id = models.CharField(max_length=120, unique=True, verbose_name=_("execution id"))
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="executions", verbose_name=_("agent"))
    # The number people see (`Heartbeat #128`): one more than the agent's newest, given on the first save
    # (retention always keeps an agent's newest runs, so a number is never given twice).
    run_number = models.PositiveIntegerField(blank=True, verbose_name=_("run number"))
    councilor = models.ForeignKey(
        Councilor,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="executions",
        verbose_name=_("councilor"),
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, verbose_name=_("kind"))
    instance_id = models.CharField(max_length=120, blank=True, verbose_name=_("instance id"))
    prompt = models.TextField(blank=True, verbose_name=_("prompt"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, verbose_name=_("status"))
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True, verbose_name=_("severity"))
    output = models.TextField(blank=True, verbose_name=_("output"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    # When the run started; for a `queued` run, when it was queued (set again when it starts).
    started_at = models.DateTimeField(verbose_name=_("started"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed"))
    duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("duration (ms)"))
    # When a scheduled run was due (null for runs started by hand); one execution per due time.
    scheduled_for = models.DateTimeField(null=True, blank=True, verbose_name=_("scheduled for"))
    # `host:pid` of the django-q2 worker running it, so a dead worker's run can be found and closed.
    worker = models.CharField(max_length=255, blank=True, verbose_name=_("worker"))
    # Who asked for the run (API execute, run now from the admin or the WebSocket): they may read its
    # prompt and output. Null for scheduled runs, runs from a command line, and deleted users.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    # Retries: attempt n of max_attempts; every later attempt points at the first one.
    attempt = models.PositiveSmallIntegerField(default=1, verbose_name=_("attempt"))
    max_attempts = models.PositiveSmallIntegerField(default=1, verbose_name=_("attempts (most)"))
    first_attempt = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="retries",
        verbose_name=_("first attempt"),
    )
    # A cancel asked for (by `cancelled_by`, null for a command's or a deleted user): the worker running
    # the run sees it and stops the run, which then ends as `cancelled`.
    cancel_requested_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancel requested"))
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cancelled by"),
    )
    cancelled_by_name = models.CharField(max_length=150, blank=True, verbose_name=_("cancelled by (name)"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("execution")
        verbose_name_plural = _("executions")
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        permissions = [("cancel_execution", "Can cancel runs asked for by others")]
        indexes = [
            models.Index(fields=["agent", "-started_at"], name="execution_agent_recent"),
            models.Index(fields=["status"], name="execution_status"),
            models.Index(fields=["started_at"], name="execution_started"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=["councilor", "agent"]), name="execution_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "completed", "error", "cancelled", "timed_out"]),
                name="execution_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=["", "success", "warning", "error"]), name="execution_severity_valid"
            ),
            # A finished run has its severity, end time and duration; a queued or running one has none of them.
            models.CheckConstraint(
                condition=(
                    models.Q(status__in=["queued", "running"], completed_at__isnull=True, severity="")
                    | (
                        ~models.Q(status__in=["queued", "running"])
                        & models.Q(completed_at__isnull=False, duration_ms__isnull=False)
                        & ~models.Q(severity="")
                    )
                ),
                name="execution_finished_fields",
            ),
            # A run that failed, timed out or was cancelled is an error (the seed's clients know two verdicts).
            models.CheckConstraint(
                condition=~models.Q(status__in=["error", "timed_out", "cancelled"]) | models.Q(severity="error"),
                name="execution_error_severity",
            ),
            models.UniqueConstraint(fields=["agent", "run_number"], name="execution_run_number_per_agent"),
            # Exactly once: a due time delivered twice (two clusters, a redelivered task) runs once.
            models.UniqueConstraint(fields=["councilor", "scheduled_for"], name="execution_once_per_due_time"),
        ]

    def __str__(self) -> str:
        return self.execution_id

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.run_number is not None:
            super().save(*args, **kwargs)
            return
        # No savepoint of its own inside a caller's transaction (a run's start is one): a failed
        # write fails that transaction as a whole anyway, and the savepoint was two round trips per run.
        with transaction.atomic(savepoint=False):
            self.run_number = next_run_number(self.agent_id)
            super().save(*args, **kwargs)


def next_run_number(agent_pk: int) -> int:
    """The number of the agent's next run; call in the transaction that inserts it.

    The agent's row lock makes "read the newest number, write mine" one step when two clusters
    start runs of one agent at once (SQLite's IMMEDIATE transactions do it there).
    """
    agent_row_lock(agent_pk)
    with connection.cursor() as cursor:
        table = Execution._meta.db_table
        cursor.execute(f"SELECT MAX(run_number) FROM {table} WHERE agent_id = %s", [agent_pk])
        (newest,) = cursor.fetchone()
    return (newest or 0) + 1


def agent_row_lock(agent_pk: int, *, lock: bool = True) -> tuple[int | None] | None:
    """Lock an agent's row until the transaction ends: `(max_concurrent,)`, or None when the agent is gone.

    Written out rather than built by the ORM: a run takes this lock two or three times, and building
    the query cost the worker more CPU than the database's answer (bench/runs.py's profile).
    SQLite has no row locks: its IMMEDIATE transactions serialize writers instead. `lock=False`: a plain read.
    """
    locking = row_lock_clause() if lock else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max_concurrent FROM {Agent._meta.db_table} WHERE id = %s{locking}", [agent_pk])
        return cursor.fetchone()


def row_lock_clause() -> str:
    """The lock a run takes on a councilor's or an agent's row (nothing on SQLite: see agent_row_lock)."""
    if not connection.features.has_select_for_update:
        return ""
    # NO KEY UPDATE: lockers exclude each other, but a row elsewhere that refers to the locked one
    # (an execution being inserted) can still take its key-share lock, so two transactions that take
    # an agent's lock and a councilor's in different orders cannot deadlock on the references.
    return " FOR NO KEY UPDATE" if connection.features.has_select_for_no_key_update else " FOR UPDATE"


class SkippedRun(models.Model):
    """A scheduled run that did not start, and why (shown in the admin; runs never overlap)."""

    class Reason(models.TextChoices):
        OVERLAP = "overlap", _("Previous run still running")
        PAUSED = "paused", _("Councilor paused before the run started")
        DUPLICATE = "duplicate", _("This due time already ran")

    councilor = models.ForeignKey(
        Councilor, on_delete=models.CASCADE, related_name="skipped_runs", verbose_name=_("councilor")
    )
    scheduled_for = models.DateTimeField(null=True, blank=True, verbose_name=_("scheduled for"))
    # The id the skipped run would have recorded (runs asked for by hand), so `run_councilor --wait`
    # can tell its caller the run was skipped instead of waiting for a record that never comes.
    execution_id = models.CharField(max_length=120, blank=True, db_index=True, verbose_name=_("execution id"))
    reason = models.CharField(max_length=10, choices=Reason.choices, verbose_name=_("reason"))
    running_execution = models.ForeignKey(
        Execution,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("run still running"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("skipped run")
        verbose_name_plural = _("skipped runs")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reason__in=["overlap", "paused", "duplicate"]), name="skippedrun_reason_valid"
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(councilor)s skipped (%(reason)s)") % {
            "councilor": self.councilor,
            "reason": self.get_reason_display(),
        }


class ActionRecord(models.Model):
    """One pause, resume, run now, execute, cancel or prune: who did it, from where, to what (read-only history)."""

    class Action(models.TextChoices):
        PAUSE = "pause", _("Pause")
        RESUME = "resume", _("Resume")
        RUN_NOW = "run_now", _("Run now")
        EXECUTE = "execute", _("Execute (API)")
        CANCEL = "cancel", _("Cancel a run")
        PRUNE = "prune", _("Prune old runs")

    class Source(models.TextChoices):
        ADMIN = "admin", _("Admin")
        WEBSOCKET = "websocket", _("WebSocket")
        API = "api", _("HTTP API")
        COMMAND = "command", _("Management command")
        SCHEDULE = "schedule", _("Scheduled task")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("when"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    # The name as it was, so the record still says who once the account is gone (and for commands,
    # whose actor is a name given with --by or the OS user, not an account).
    actor_name = models.CharField(max_length=150, verbose_name=_("actor name"))
    action = models.CharField(max_length=10, choices=Action.choices, verbose_name=_("action"))
    target = models.CharField(
        max_length=64, help_text=_("The agent_id of the councilor or agent acted on."), verbose_name=_("target")
    )
    execution_id = models.CharField(max_length=120, blank=True, verbose_name=_("execution id"))
    source = models.CharField(max_length=10, choices=Source.choices, verbose_name=_("source"))
    address = models.CharField(
        max_length=255,
        blank=True,
        help_text=_("The client's IP address, or the host name for a command."),
        verbose_name=_("address"),
    )

    class Meta:
        verbose_name = _("action record")
        verbose_name_plural = _("action records")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=["pause", "resume", "run_now", "execute", "cancel", "prune"]),
                name="actionrecord_action_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=["admin", "websocket", "api", "command", "schedule"]),
                name="actionrecord_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name}: {self.get_action_display()} {self.target}"


class RunIncident(models.Model):
    """A councilor that started late, a run that is stuck, or slots missed while no worker was up.

    One row per incident (the unique `key` says which due time or run it is about), so each raises
    its `system_alert` and notification exactly once however many clusters look; `resolved_at` is
    set when it is over (the run started or ended), and the councilors table shows open ones.
    """

    class Kind(models.TextChoices):
        LATE = "late", _("Late")
        STUCK = "stuck", _("Stuck")
        MISSED = "missed", _("Missed")

    councilor = models.ForeignKey(
        Councilor, on_delete=models.CASCADE, related_name="incidents", verbose_name=_("councilor")
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    # The due time (ISO 8601) a late or missed incident is about, or the execution_id of a stuck run.
    key = models.CharField(max_length=120, verbose_name=_("key"))
    execution = models.ForeignKey(
        Execution, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("execution")
    )
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    raised_at = models.DateTimeField(verbose_name=_("raised"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved"))

    class Meta:
        verbose_name = _("run incident")
        verbose_name_plural = _("run incidents")
        ordering = ["-raised_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["late", "stuck", "missed"]), name="runincident_kind_valid"
            ),
            models.UniqueConstraint(fields=["councilor", "kind", "key"], name="runincident_once"),
        ]

    def __str__(self) -> str:
        return f"{self.councilor} {self.kind} ({self.key})"
