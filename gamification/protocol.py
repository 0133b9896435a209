"""The wire vocabulary of `/ws/gamification` (SPEC §4): close codes, error codes and messages.

Named once here; the consumer raises them, the tests and the README quote them.
"""

from dataclasses import dataclass
from typing import Any

# Close codes. daphne's WebSocket engine only sends 1000 or 3000-4999 from the server side,
# so the application's reasons live in the private 4000 range (mirroring the HTTP status they mean).
CLOSE_UNAUTHORIZED = 4401
CLOSE_UNAUTHORIZED_REASON = "Unauthorized"
CLOSE_SLOW_CONSUMER = 4008  # the client read too slowly: its outbox of pending frames overflowed
CLOSE_MESSAGE_TOO_BIG = 4009  # a command over GAMIFICATION_WS_MAX_MESSAGE_BYTES
CLOSE_RATE_LIMITED = 4029  # commands faster than GAMIFICATION_WS_RATE_LIMIT_PER_S / _BURST
CLOSE_INTERNAL_ERROR = 4500  # writing to this client raised: the gateway dropped it (reconnect and resume)
CLOSE_INTERNAL_ERROR_REASON = "Internal error"

# Control commands: declared here (the wire vocabulary), answered by the councilors app, which
# registers their handler (gamification.commands) so that the gateway never imports the domain.
PAUSE_COUNCILOR = "pause_councilor"
RESUME_COUNCILOR = "resume_councilor"
RUN_COUNCILOR = "run_councilor"
CONTROL_COMMANDS = (PAUSE_COUNCILOR, RESUME_COUNCILOR, RUN_COUNCILOR)
CONTROL_PERMISSION = "councilors.change_councilor"

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
