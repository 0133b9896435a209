"""The event catalogue (docs/protocol.md, "Events"): every event type, its topic and the fields its data carries.

Declared once, as TypedDicts: the emitter validates against them, the consumer uses them for
topics, `gamification.payloads` builds them, the AsyncAPI document (`gamification.asyncapi`) is
generated from them, and the tests and the JavaScript client read the same names.
"""

from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

ALL_TOPICS = "all"

Severity = Literal["success", "warning", "error"]
AlertLevel = Literal["info", "warning", "critical"]


class CouncilorStarted(TypedDict):
    councilor_id: str
    task_name: str
    display_name: str
    execution_id: str
    started_at: str  # ISO 8601
    emoji: NotRequired[str]
    run_number: NotRequired[int]  # per agent, shown to people (`Heartbeat #128`)
    attempt: NotRequired[int]  # 1 unless retried
    max_attempts: NotRequired[int]


class CouncilorCompleted(TypedDict):
    councilor_id: str
    task_name: str
    display_name: str
    execution_id: str
    status: Literal["completed"]
    severity: Severity
    started_at: str
    completed_at: str
    duration_ms: int
    emoji: NotRequired[str]
    run_number: NotRequired[int]  # per agent, shown to people (`Heartbeat #128`)
    attempt: NotRequired[int]  # 1 unless retried
    max_attempts: NotRequired[int]


class CouncilorError(TypedDict):
    councilor_id: str
    task_name: str
    display_name: str
    execution_id: str
    # Seed clients know `error`; a cancelled or timed-out run ends with this event too.
    status: Literal["error", "cancelled", "timed_out"]
    severity: Literal["error"]
    error: str
    started_at: str
    completed_at: str
    duration_ms: NotRequired[int]
    emoji: NotRequired[str]
    cancelled_by: NotRequired[str]  # who cancelled it (status `cancelled`)
    run_number: NotRequired[int]  # per agent, shown to people (`Heartbeat #128`)
    attempt: NotRequired[int]  # 1 unless retried
    max_attempts: NotRequired[int]


class AgentExecutionStarted(TypedDict):
    agent_id: str
    agent_name: str
    instance_id: str
    execution_id: str
    started_at: str
    emoji: NotRequired[str]
    run_number: NotRequired[int]  # per agent, shown to people (`Heartbeat #128`)
    attempt: NotRequired[int]  # 1 unless retried
    max_attempts: NotRequired[int]


class AgentExecutionCompleted(TypedDict):
    agent_id: str
    agent_name: str
    instance_id: str
    execution_id: str
    status: Literal["completed", "error", "cancelled", "timed_out"]
    severity: Severity
    started_at: str
    completed_at: str
    duration_ms: int
    error: NotRequired[str]
    emoji: NotRequired[str]
    cancelled_by: NotRequired[str]  # who cancelled it (status `cancelled`)
    run_number: NotRequired[int]  # per agent, shown to people (`Heartbeat #128`)
    attempt: NotRequired[int]  # 1 unless retried
    max_attempts: NotRequired[int]


class AgentMetrics(TypedDict):
    total_executions: int
    success_rate: float  # %, finished runs whose severity is not `error`
    last_execution: str | None
    last_severity: Severity | None
    avg_duration_ms: float | None


class AgentMetricsUpdated(TypedDict):
    agent_id: str
    metrics: AgentMetrics


class SystemAlert(TypedDict):
    level: AlertLevel
    message: str
    source: str
    details: NotRequired[dict[str, Any]]


class CouncilorToggled(TypedDict):
    councilor_id: str
    success: bool
    by: str  # the username who paused or resumed it


class CouncilorRunQueued(TypedDict):
    councilor_id: str
    execution_id: NotRequired[str]
    task_id: NotRequired[str]


@dataclass(frozen=True)
class EventType:
    name: str
    data: type[Any]  # the TypedDict of its data
    broadcast: bool = True  # False: a reply to one client, never sent to a group
    summary: str = ""
    # A run's private details: sent to its requester and to holders of DETAILS_PERMISSION only; everyone
    # else gets the public shape (`public_data`). docs/protocol.md, "Private run details".
    private: tuple[str, ...] = ()

    @property
    def required(self) -> frozenset[str]:
        return self.data.__required_keys__

    @property
    def optional(self) -> frozenset[str]:
        return self.data.__optional_keys__


CATALOGUE: dict[str, EventType] = {
    event.name: event
    for event in (
        EventType("councilor_started", CouncilorStarted, summary="A councilor's run started."),
        EventType("councilor_completed", CouncilorCompleted, summary="A councilor's run completed."),
        EventType("councilor_error", CouncilorError, summary="A councilor's run failed.", private=("error",)),
        EventType(
            "agent_execution_started",
            AgentExecutionStarted,
            summary="An agent run (API) started.",
            private=("instance_id",),
        ),
        EventType(
            "agent_execution_completed",
            AgentExecutionCompleted,
            summary="An agent run (API) ended.",
            private=("instance_id", "error"),
        ),
        EventType("agent_metrics_updated", AgentMetricsUpdated, summary="An agent's metrics after a run."),
        EventType("system_alert", SystemAlert, summary="An alert for everyone watching."),
        EventType("councilor_paused", CouncilorToggled, summary="A councilor was paused."),
        EventType("councilor_resumed", CouncilorToggled, summary="A councilor was resumed."),
        EventType(
            "councilor_run_queued",
            CouncilorRunQueued,
            broadcast=False,
            summary="Reply to run_councilor: the run is queued.",
        ),
    )
}

PRIVATE_TYPES = frozenset(name for name, event in CATALOGUE.items() if event.private)
# Set in the public shape of an event whose private details were left out.
DETAILS_WITHHELD = "details_withheld"
BROADCAST_TYPES = frozenset(name for name, event in CATALOGUE.items() if event.broadcast)
TOPICS = frozenset({ALL_TOPICS, *BROADCAST_TYPES})
ALERT_LEVELS = ("info", "warning", "critical")

UNKNOWN_TYPE = "Unknown event type {type!r}; known types: {known}."
DATA_NOT_OBJECT = "Event data must be a JSON object."
MISSING_FIELDS = "Event {type!r} is missing field(s): {fields}."
UNKNOWN_FIELDS = "Event {type!r} has unknown field(s): {fields}."
BAD_ALERT_LEVEL = "system_alert level must be one of info, warning, critical; got {level!r}."


def public_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The data everyone may see: a required private field empty, an optional one left out, DETAILS_WITHHELD set.

    Required fields stay (as "") so that a client written to the catalogue never misses one.
    """
    event = CATALOGUE[event_type]
    public = {
        name: ("" if name in event.private else value)
        for name, value in data.items()
        if name not in event.private or name in event.required
    }
    public[DETAILS_WITHHELD] = True
    return public


class InvalidEvent(ValueError):
    """An event type that is not in the catalogue, or data that does not fit its type."""


def validate_event(event_type: str, data: object) -> EventType:
    """Return the catalogue entry for `event_type`, or raise InvalidEvent saying what is wrong."""
    event = CATALOGUE.get(event_type)
    if event is None:
        raise InvalidEvent(UNKNOWN_TYPE.format(type=event_type, known=", ".join(sorted(CATALOGUE))))
    if not isinstance(data, dict):
        raise InvalidEvent(DATA_NOT_OBJECT)
    missing = event.required - data.keys()
    if missing:
        raise InvalidEvent(MISSING_FIELDS.format(type=event_type, fields=", ".join(sorted(missing))))
    unknown = data.keys() - event.required - event.optional
    if unknown:
        raise InvalidEvent(UNKNOWN_FIELDS.format(type=event_type, fields=", ".join(sorted(unknown))))
    if event_type == "system_alert" and data["level"] not in ALERT_LEVELS:
        raise InvalidEvent(BAD_ALERT_LEVEL.format(level=data["level"]))
    return event
