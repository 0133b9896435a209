"""Control commands from the WebSocket (pause, resume, run a councilor): permission check + service call.

Synchronous (ORM); the consumer calls `councilor_control` through `database_sync_to_async`.
The services emit the broadcast events (`councilor_paused` / `councilor_resumed`) themselves;
this returns the reply for the caller only.
"""

from typing import Any

from councilors.models import Councilor
from councilors.selectors import councilor_get
from councilors.services import councilor_enqueue, councilor_pause, councilor_resume
from gamification.protocol import FORBIDDEN, MSG_FORBIDDEN, MSG_NOT_FOUND, NOT_FOUND, CommandError

PERMISSION = "councilors.change_councilor"
PAUSE, RESUME, RUN = "pause_councilor", "resume_councilor", "run_councilor"
CONTROL_COMMANDS = (PAUSE, RESUME, RUN)


def councilor_control(*, user: Any, command: str, councilor_id: str) -> tuple[str, dict[str, Any]]:
    """Run one control command for `user`; returns the caller's reply (type, data) or raises CommandError."""
    if not (user.is_authenticated and user.has_perm(PERMISSION)):
        raise CommandError(FORBIDDEN, MSG_FORBIDDEN.format(command=command))
    try:
        councilor = councilor_get(councilor_id=councilor_id)
    except Councilor.DoesNotExist:
        raise CommandError(NOT_FOUND, MSG_NOT_FOUND.format(councilor_id=councilor_id)) from None
    by = user.get_username()
    if command == PAUSE:
        councilor_pause(councilor=councilor, by=by)
        return "councilor_paused", {"councilor_id": councilor_id, "success": True, "by": by}
    if command == RESUME:
        councilor_resume(councilor=councilor, by=by)
        return "councilor_resumed", {"councilor_id": councilor_id, "success": True, "by": by}
    execution_id = councilor_enqueue(councilor=councilor)
    return "councilor_run_queued", {"councilor_id": councilor_id, "execution_id": execution_id}
