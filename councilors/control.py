"""Control commands from the WebSocket (pause, resume, run a councilor; cancel a run): permission check + service call.

The gateway (gamification) parses the command; this module, registered in CouncilorsConfig.ready(),
decides and acts. The services record the action (who, from which address) and emit the broadcast
events (`councilor_paused` / `councilor_resumed`) themselves; this returns the reply for the caller only.
"""

from typing import Any

from channels.db import database_sync_to_async

from councilors.audit import Actor
from councilors.cancellation import CancelRefused, execution_cancel
from councilors.models import ActionRecord, Councilor
from councilors.selectors import councilor_get
from councilors.services import councilor_enqueue, councilor_pause, councilor_resume
from gamification import payloads
from gamification.commands import Caller, register_command
from gamification.protocol import (
    CANCEL_RUN,
    COMMAND_FIELD,
    CONTROL_COMMANDS,
    COUNCILOR_ID_EXPECTED,
    EXECUTION_ID_EXPECTED,
    FORBIDDEN,
    MSG_FORBIDDEN,
    MSG_NOT_FOUND,
    NOT_FOUND,
    PAUSE_COUNCILOR,
    RESUME_COUNCILOR,
    RUN_CANCEL,
    CommandRejected,
    required_field,
)

MSG_CANCEL_ANONYMOUS = "Cancelling a run needs a logged-in user (a session or a token)."


def councilor_control(*, caller: Caller, command: str, councilor_id: str) -> tuple[str, dict[str, Any]]:
    """Run one control command for `caller`; returns the caller's reply (type, data) or raises CommandRejected."""
    _check_may_control(caller, command)
    user = caller.user
    try:
        councilor = councilor_get(councilor_id=councilor_id)
    except Councilor.DoesNotExist:
        raise CommandRejected(NOT_FOUND, MSG_NOT_FOUND.format(councilor_id=councilor_id)) from None
    actor = Actor.of_user(user, source=ActionRecord.Source.WEBSOCKET, address=caller.address)
    if command == PAUSE_COUNCILOR:
        councilor_pause(councilor=councilor, actor=actor)
        return payloads.councilor_paused(councilor_id=councilor_id, by=actor.name)
    if command == RESUME_COUNCILOR:
        councilor_resume(councilor=councilor, actor=actor)
        return payloads.councilor_resumed(councilor_id=councilor_id, by=actor.name)
    execution_id = councilor_enqueue(councilor=councilor, actor=actor)
    return payloads.councilor_run_queued(councilor_id=councilor_id, execution_id=execution_id)


def _check_may_control(caller: Caller, command: str) -> None:
    # The gateway's view of the user (gamification/access.py), at most GAMIFICATION_ACCESS_TTL_S old:
    # a revoked permission takes effect within that bound, without a query per command.
    if not caller.may_control:
        raise CommandRejected(FORBIDDEN, MSG_FORBIDDEN.format(command=command))


async def handle_control(caller: Caller, content: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The gateway's handler for the three control commands (a refused one costs no database access)."""
    councilor_id = required_field(content, "councilor_id", str, COUNCILOR_ID_EXPECTED)
    _check_may_control(caller, content[COMMAND_FIELD])
    return await database_sync_to_async(councilor_control)(
        caller=caller, command=content[COMMAND_FIELD], councilor_id=councilor_id
    )


def run_cancel(*, caller: Caller, execution_id: str) -> tuple[str, dict[str, Any]]:
    """Cancel a run for `caller`; the reply says how it went (CommandRejected when it is not theirs to cancel)."""
    actor = Actor.of_user(caller.user, source=ActionRecord.Source.WEBSOCKET, address=caller.address)
    try:
        result = execution_cancel(execution_id=execution_id, actor=actor)
    except CancelRefused as refused:
        code = FORBIDDEN if refused.code == CancelRefused.FORBIDDEN else NOT_FOUND
        raise CommandRejected(code, refused.message) from None
    return RUN_CANCEL, {
        "execution_id": result.execution_id,
        "outcome": result.outcome,
        "status": result.status,
        "run": result.run_title,
        "message": result.message,
    }


async def handle_cancel(caller: Caller, content: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The gateway's handler for `cancel_run` (anonymous connections are refused without database access)."""
    execution_id = required_field(content, "execution_id", str, EXECUTION_ID_EXPECTED)
    if not caller.user.is_authenticated:
        raise CommandRejected(FORBIDDEN, MSG_CANCEL_ANONYMOUS)
    return await database_sync_to_async(run_cancel)(caller=caller, execution_id=execution_id)


def register() -> None:
    for command in CONTROL_COMMANDS:
        register_command(command, handle_control)
    register_command(CANCEL_RUN, handle_cancel)
