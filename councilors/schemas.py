"""Request and response bodies of the HTTP API (django-ninja schemas, in the OpenAPI document)."""

from datetime import datetime
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext, gettext_noop
from ninja import Field, Schema
from pydantic import field_validator

from councilors.validators import PROMPT_MAX_LENGTH, validate_prompt
from infrastructure.text import unstorable

INSTANCE_ID_MAX_LENGTH = 120
INSTANCE_ID_NUL = gettext_noop('"instance_id" must not contain NUL characters (\\x00).')
INSTANCE_ID_UNSTORABLE = gettext_noop(
    '"instance_id" must be valid Unicode text: it contains a lone surrogate (U+D800 to U+DFFF).'
)


class ExecuteIn(Schema):
    """The body of execute. Refusals are worded for people (the validators' messages, in the
    request's language); conductor/api.py turns them into the API's 400."""

    prompt: str = Field(description=f"What the agent should do (1 to {PROMPT_MAX_LENGTH} characters).")
    instance_id: str | None = Field(
        None, max_length=INSTANCE_ID_MAX_LENGTH, description="Caller's instance, kept on the run (optional)."
    )

    @field_validator("prompt")
    @classmethod
    def prompt_valid(cls, value: str) -> str:
        try:
            validate_prompt(value)
        except DjangoValidationError as exc:
            raise ValueError(exc.messages[0]) from exc
        return value

    @field_validator("instance_id")
    @classmethod
    def instance_id_valid(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:  # the run could never be recorded (PostgreSQL refuses NUL)
            raise ValueError(gettext(INSTANCE_ID_NUL))
        if value is not None and unstorable(value):  # nor does any database store a lone surrogate
            raise ValueError(gettext(INSTANCE_ID_UNSTORABLE))
        return value


class ExecuteOut(Schema):
    execution_id: str
    status_url: str = Field(description="GET it for the run's state; `/api/v1/stream?execution_id=` streams output.")


class ExecutionOut(Schema):
    execution_id: str
    agent_id: str
    councilor_id: str | None = None
    kind: Literal["agent", "councilor"] | None = None
    instance_id: str = ""
    prompt: str = ""
    status: Literal["queued", "running", "completed", "error", "cancelled", "timed_out"]
    severity: Literal["success", "warning", "error"] | None = None
    output: str = ""
    error: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None
    run_number: int | None = Field(None, description="The run's number for its agent (`Heartbeat #128`).")
    cancelled_by: str = Field("", description="Who cancelled the run (set once a cancel is asked for).")


class MetricsOut(Schema):
    total_executions: int
    success_rate: float
    last_execution: str | None
    last_severity: str | None
    avg_duration_ms: float | None


class AgentMetricsOut(Schema):
    agent_id: str
    agent_name: str
    emoji: str
    metrics: MetricsOut


class ScheduleOut(Schema):
    type: Literal["interval", "cron"]
    value: str


class LastRunOut(Schema):
    execution_id: str
    status: str
    severity: str | None
    started_at: datetime
    completed_at: datetime | None
    duration_ms: int | None


class CouncilorOut(Schema):
    councilor_id: str
    title: str
    emoji: str
    task_name: str
    schedule: ScheduleOut
    enabled: bool
    last_run: LastRunOut | None
    next_run: datetime | None = Field(description="When it runs next; null while paused.")
    incidents: list[str] = Field(
        default_factory=list,
        description="Open incidents: `late` (not started within its grace period), `stuck` (running too long), "
        "`missed` (slots missed while no worker was up, not caught up yet).",
    )


class CancelOut(Schema):
    execution_id: str
    outcome: Literal["cancelled", "cancelling", "already_ended"] = Field(
        description="cancelled: it had not started and ended now; cancelling: its worker stops it within 2 s "
        "(it then ends `cancelled`); already_ended (409): it had ended, nothing was done."
    )
    status: Literal["queued", "running", "completed", "error", "cancelled", "timed_out"]
    run: str = Field(description="The run as people name it: `Heartbeat #128`.")
    detail: str


class CancelConflictOut(CancelOut):
    code: Literal["already_ended"]


class ErrorOut(Schema):
    detail: str
    code: str
