"""Shared by the management commands: find a councilor by id, name who acts, or fail with a clear error."""

import getpass

from django.core.management.base import CommandError, CommandParser

from councilors.audit import Actor
from councilors.models import ActionRecord, Councilor
from councilors.selectors import councilor_get
from infrastructure.text import unstorable

UNKNOWN_COUNCILOR = "No councilor with id {councilor_id!r}. Known ids: {known} (see `manage.py list_councilors`)."
ACTOR_NAME_MAX = ActionRecord._meta.get_field("actor_name").max_length
BAD_ACTOR = f"--by must name who acts: 1 to {ACTOR_NAME_MAX} characters."
BAD_ACTOR_TEXT = (
    "--by must be valid text: it contains a NUL or bytes that are not UTF-8 in this terminal's encoding, "
    "which cannot be stored."
)


def add_by_argument(parser: CommandParser, *, verb: str) -> None:
    """The `--by` option: who the action record and the event name (default: the OS user)."""
    parser.add_argument("--by", default=getpass.getuser(), help=f"who {verb} it (default: your user name)")


def command_actor(by: str) -> Actor:
    """The operator at this shell, as the action record names them (CommandError for an empty or long name)."""
    if not by.strip() or len(by) > ACTOR_NAME_MAX:
        raise CommandError(BAD_ACTOR)
    if unstorable(by):  # command-line bytes that are not UTF-8 arrive as lone surrogates (surrogateescape)
        raise CommandError(BAD_ACTOR_TEXT)
    return Actor.of_command(by)


def councilor_or_error(councilor_id: str) -> Councilor:
    """The councilor whose agent_id is `councilor_id`, or CommandError naming the ids that exist."""
    try:
        return councilor_get(councilor_id=councilor_id)
    except Councilor.DoesNotExist:
        known = ", ".join(Councilor.objects.order_by("agent__agent_id").values_list("agent__agent_id", flat=True))
        raise CommandError(UNKNOWN_COUNCILOR.format(councilor_id=councilor_id, known=known or "none")) from None
