"""The event catalogue (SPEC §3): every event type, its topic and the fields its data carries.

Declared once; the emitter validates against it, the consumer uses it for topics, and the tests
and the JavaScript client read the same names.
"""

from dataclasses import dataclass, field

ALL_TOPICS = "all"


@dataclass(frozen=True)
class EventType:
    name: str
    required: frozenset[str]
    optional: frozenset[str] = field(default_factory=frozenset)
    broadcast: bool = True  # False: a reply to one client, never sent to a group


def _event(name: str, required: str, optional: str = "", *, broadcast: bool = True) -> EventType:
    return EventType(name, frozenset(required.split()), frozenset(optional.split()), broadcast)


CATALOGUE: dict[str, EventType] = {
    event.name: event
    for event in (
        _event("councilor_started", "councilor_id task_name display_name execution_id started_at", "emoji"),
        _event(
            "councilor_completed",
            "councilor_id task_name display_name execution_id status severity started_at completed_at duration_ms",
            "emoji",
        ),
        _event(
            "councilor_error",
            "councilor_id task_name display_name execution_id status severity error started_at completed_at",
            "duration_ms emoji",
        ),
        _event("agent_execution_started", "agent_id agent_name instance_id execution_id started_at", "emoji"),
        _event(
            "agent_execution_completed",
            "agent_id agent_name instance_id execution_id status severity started_at completed_at duration_ms",
            "error emoji",
        ),
        _event("agent_metrics_updated", "agent_id metrics"),
        _event("system_alert", "level message source", "details"),
        _event("councilor_paused", "councilor_id success by"),
        _event("councilor_resumed", "councilor_id success by"),
        _event("councilor_run_queued", "councilor_id", "execution_id task_id", broadcast=False),
    )
}

BROADCAST_TYPES = frozenset(name for name, event in CATALOGUE.items() if event.broadcast)
TOPICS = frozenset({ALL_TOPICS, *BROADCAST_TYPES})
ALERT_LEVELS = ("info", "warning", "critical")

UNKNOWN_TYPE = "Unknown event type {type!r}; known types: {known}."
DATA_NOT_OBJECT = "Event data must be a JSON object."
MISSING_FIELDS = "Event {type!r} is missing field(s): {fields}."
UNKNOWN_FIELDS = "Event {type!r} has unknown field(s): {fields}."
BAD_ALERT_LEVEL = "system_alert level must be one of info, warning, critical; got {level!r}."


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
