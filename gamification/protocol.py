"""The wire vocabulary of `/ws/gamification` (docs/protocol.md): commands, replies, error and close codes.

Named once here: the consumer and the control commands use these names, `gamification.asyncapi`
generates the AsyncAPI document from these tables and the event catalogue, the tests and
docs/protocol.md quote them.
"""

from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, NotRequired, TypedDict

from gamification.catalogue import CATALOGUE, TOPICS


class JsonSchema(dict[str, Any]):
    """JSON Schema keywords that `Annotated[type, JsonSchema(...)]` adds to a field's type."""


# The envelope of every server message: {"type", "data", "timestamp", "id"}.
ENVELOPE_KEYS = ("type", "data", "timestamp", "id")
COMMAND_FIELD = "command"  # every client message names its command here
REQUEST_ID = "request_id"  # optional in any command; the reply echoes it in data.request_id
REQUEST_ID_EXPECTED = "a string or an integer"
COMMAND_EXPECTED = "a string"


# Close codes: one type, whose members are the codes (ints on the wire) and carry their reason and when
# they are used. daphne's WebSocket engine only sends 1000 or 3000-4999 from the server side, so the
# application's reasons live in the private 4000 range (mirroring the HTTP status they mean).
class CloseCode(IntEnum):
    reason: str
    when: str

    def __new__(cls, code: int, reason: str, when: str) -> "CloseCode":
        member = int.__new__(cls, code)
        member._value_ = code
        member.reason = reason
        member.when = when
        return member

    @property
    def code(self) -> int:
        return int(self)

    UNAUTHORIZED = (
        4401,
        "Unauthorized",
        "no valid session or token (accepted, then closed); on an open connection: its token expired or went "
        "stale, its session ended (logout, expiry, password change), or its user was deactivated",
    )
    TOO_MANY_CONNECTIONS = (
        4429,
        "Too many connections",
        "the user has GAMIFICATION_WS_MAX_PER_USER sockets open already (accepted, then closed)",
    )
    SLOW_CONSUMER = (4008, "Too slow", "over GAMIFICATION_WS_OUTBOX_FRAMES frames unread")
    MESSAGE_TOO_BIG = (4009, "Message too big", "a message over GAMIFICATION_WS_MAX_MESSAGE_BYTES")
    RATE_LIMITED = (4029, "Too many commands", "commands faster than GAMIFICATION_WS_RATE_LIMIT_*")
    INTERNAL_ERROR = (4500, "Internal error", "writing to this client failed: reconnect and resume")


CLOSE_CODES = tuple(CloseCode)
# The same codes under the flat names that code written before CloseCode imports (deprecated: use
# CloseCode), unpacked from the type in its order so that nothing is written twice.
(
    CLOSE_UNAUTHORIZED,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_SLOW_CONSUMER,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_RATE_LIMITED,
    CLOSE_INTERNAL_ERROR,
) = CloseCode
(
    CLOSE_UNAUTHORIZED_REASON,
    CLOSE_TOO_MANY_CONNECTIONS_REASON,
    CLOSE_SLOW_CONSUMER_REASON,
    CLOSE_MESSAGE_TOO_BIG_REASON,
    CLOSE_RATE_LIMITED_REASON,
    CLOSE_INTERNAL_ERROR_REASON,
) = (code.reason for code in CloseCode)

# Error replies: {"type": "error", "data": {"code": CODE, "message": text}}.
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
UNKNOWN_COMMAND = "unknown_command"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
UNKNOWN_TOPIC = "unknown_topic"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
HISTORY_UNAVAILABLE = "history_unavailable"
ERROR_CODES = (
    INVALID_JSON,
    NOT_AN_OBJECT,
    UNKNOWN_COMMAND,
    MISSING_FIELD,
    INVALID_FIELD,
    UNKNOWN_TOPIC,
    FORBIDDEN,
    NOT_FOUND,
    HISTORY_UNAVAILABLE,
)

MSG_INVALID_JSON = "The message is not valid JSON."
MSG_BINARY = "Binary messages are not accepted; send JSON text."
MSG_NOT_AN_OBJECT = 'A command must be a JSON object such as {"command": "ping"}.'
MSG_UNKNOWN_COMMAND = "Unknown command {command!r}; known commands: {known}."
MSG_MISSING_FIELD = "The field {field!r} is required."
MSG_INVALID_FIELD = "The field {field!r} must be {expected}."
MSG_UNKNOWN_TOPIC = "Unknown topic(s): {unknown}; valid topics: {valid}."
MSG_FORBIDDEN = "The command {command!r} needs the councilors.change_councilor permission."
MSG_NOT_FOUND = "No councilor {councilor_id!r}."
MSG_HISTORY_UNAVAILABLE = "The event history is not available; reload the state from the REST API."
CONNECTED_MESSAGE = "Connected to gamification WebSocket"
TOPICS_EXPECTED = "a list of topic names"
SINCE_EXPECTED = "a non-negative integer (an event id)"
COUNCILOR_ID_EXPECTED = "a string"

# Commands. The gateway answers the first four itself; the control commands are answered by the
# councilors app, which registers their handler (gamification.commands) so that the gateway never
# imports the domain.
PING = "ping"
SUBSCRIBE = "subscribe"
GET_STATS = "get_stats"
RESUME = "resume"
PAUSE_COUNCILOR = "pause_councilor"
RESUME_COUNCILOR = "resume_councilor"
RUN_COUNCILOR = "run_councilor"
CONTROL_COMMANDS = (PAUSE_COUNCILOR, RESUME_COUNCILOR, RUN_COUNCILOR)
# Its own rule (the run's requester, or councilors.cancel_execution), checked by the councilors app.
CANCEL_RUN = "cancel_run"
EXECUTION_ID_EXPECTED = "a string"
CONTROL_PERMISSION = "councilors.change_councilor"
# Who sees every run's private details in events (docs/protocol.md, "Private run details"), as in the HTTP API.
DETAILS_PERMISSION = "councilors.view_execution"

# Replies: to the caller only, `id` null. The control commands reply with catalogue events.
CONNECTED = "connected"
PONG = "pong"
SUBSCRIBED = "subscribed"
STATS = "stats"
RESUMED = "resumed"
ERROR = "error"
COUNCILOR_PAUSED = "councilor_paused"
COUNCILOR_RESUMED = "councilor_resumed"
COUNCILOR_RUN_QUEUED = "councilor_run_queued"
RUN_CANCEL = "run_cancel"

Topic = Annotated[str, JsonSchema(enum=sorted(TOPICS))]


class NoFields(TypedDict):
    pass


class SubscribeFields(TypedDict):
    topics: list[Topic]  # replaces the connection's topics


class ResumeFields(TypedDict):
    since: Annotated[int, JsonSchema(minimum=0)]  # the last event id the client has (or connected.last_id)


class CouncilorFields(TypedDict):
    councilor_id: str


class ExecutionFields(TypedDict):
    execution_id: str


class RunCancel(TypedDict):
    execution_id: str
    # cancelled: it had not started and ended now; cancelling: its worker stops it within 2 s (its
    # completion event follows, status `cancelled`); already_ended: nothing was done, `status` says how.
    outcome: Annotated[str, JsonSchema(enum=["cancelled", "cancelling", "already_ended"])]
    status: str  # the run's status now
    run: str  # the run as people name it: `Heartbeat #128`
    message: str  # for people


class Connected(TypedDict):
    message: str  # CONNECTED_MESSAGE
    client_id: str  # a UUID, as get_stats lists it
    last_id: int  # the newest event id when this connection joined (0: none, or the history is off)
    # Only with `?since=<id>` in the URL (a resume in the handshake): as `resumed` says them.
    replayed: NotRequired[int]  # how many missed events follow this message, before any live one
    complete: NotRequired[bool]  # False: events after `since` are no longer kept; reload the state from the REST API


class Pong(TypedDict):
    timestamp: float  # the server's time, Unix seconds


class Subscribed(TypedDict):
    topics: list[Topic]  # the connection's topics now, sorted


class StatsClient(TypedDict):
    client_id: str
    user: str | None  # the username; null for an anonymous connection
    topics: list[Topic]
    connected_at: float  # Unix seconds
    instance: str  # the gateway process: host:pid:random


class Stats(TypedDict):
    active_connections: int  # over every gateway process of the deployment
    instances: int  # gateway processes counted
    topics: dict[str, int]  # connections per topic
    clients: NotRequired[list[StatsClient]]  # staff only


class Resumed(TypedDict):
    since: int  # as the command gave it
    replayed: int  # how many events came before this reply
    complete: bool  # False: events after `since` are no longer kept; reload the state from the REST API


class Error(TypedDict):
    code: Annotated[str, JsonSchema(enum=list(ERROR_CODES))]
    message: str  # for people; the code is for programs


REPLIES: dict[str, type] = {
    CONNECTED: Connected,
    PONG: Pong,
    SUBSCRIBED: Subscribed,
    STATS: Stats,
    RESUMED: Resumed,
    ERROR: Error,
    RUN_CANCEL: RunCancel,
    **{name: CATALOGUE[name].data for name in (COUNCILOR_PAUSED, COUNCILOR_RESUMED, COUNCILOR_RUN_QUEUED)},
}


@dataclass(frozen=True)
class Command:
    name: str
    fields: type  # a TypedDict of its fields besides `command` and `request_id`
    reply: str  # the reply's type (any command may instead get an `error`)
    summary: str
    replays: bool = False  # events come before the reply (resume)


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command(PING, NoFields, PONG, "Ask for the server's time."),
        Command(SUBSCRIBE, SubscribeFields, SUBSCRIBED, "Replace the connection's topics."),
        Command(GET_STATS, NoFields, STATS, "Connections and topics over every gateway process."),
        Command(RESUME, ResumeFields, RESUMED, "Replay the kept events with id > since, then reply.", replays=True),
        Command(PAUSE_COUNCILOR, CouncilorFields, COUNCILOR_PAUSED, "Pause a councilor (broadcast too)."),
        Command(RESUME_COUNCILOR, CouncilorFields, COUNCILOR_RESUMED, "Resume a councilor (broadcast too)."),
        Command(RUN_COUNCILOR, CouncilorFields, COUNCILOR_RUN_QUEUED, "Queue a run of a councilor now."),
        Command(
            CANCEL_RUN, ExecutionFields, RUN_CANCEL, "Cancel a run (its requester, or councilors.cancel_execution)."
        ),
    )
}


@dataclass
class CommandRejected(Exception):
    """A bad command: the consumer replies with this code and message and carries on."""

    code: str
    message: str


def required_field(content: dict[str, Any], name: str, kind: type | tuple[type, ...], expected: str) -> Any:
    """`content[name]` when present and of `kind`; CommandRejected (missing_field / invalid_field) otherwise."""
    if name not in content:
        raise CommandRejected(MISSING_FIELD, MSG_MISSING_FIELD.format(field=name))
    value = content[name]
    if isinstance(value, bool) or not isinstance(value, kind):  # bool is an int in Python, never in our fields
        raise CommandRejected(INVALID_FIELD, MSG_INVALID_FIELD.format(field=name, expected=expected))
    return value
