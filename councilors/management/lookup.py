"""Shared by the management commands: find a councilor by id, name who acts, or fail with a clear error."""

import getpass

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from councilors.audit import Actor
from councilors.models import ActionRecord, Councilor
from councilors.selectors import councilor_get
from infrastructure.text import unstorable

# Messages in English here (the tests compare against them), in the operator's language when shown.
UNKNOWN_COUNCILOR = gettext_noop(
    "No councilor with id {councilor_id!r}. Known ids: {known} (see `manage.py list_councilors`)."
)
NO_IDS = gettext_noop("none")
ACTOR_NAME_MAX = ActionRecord._meta.get_field("actor_name").max_length
BAD_ACTOR_TEMPLATE = gettext_noop("--by must name who acts: 1 to {maximum} characters.")
BAD_ACTOR = BAD_ACTOR_TEMPLATE.format(maximum=ACTOR_NAME_MAX)
BAD_ACTOR_TEXT = gettext_noop(
    "--by must be valid text: it contains a NUL or bytes that are not UTF-8 in this terminal's encoding, "
    "which cannot be stored."
)
# The --by option's help, per command (a whole sentence each, so each language can word it).
BY_HELP = {
    "paused": gettext_lazy("who paused it (default: your user name)"),
    "resumed": gettext_lazy("who resumed it (default: your user name)"),
    "ran": gettext_lazy("who ran it (default: your user name)"),
    "cancelled": gettext_lazy("who cancelled it (default: your user name)"),
}


def add_by_argument(parser: CommandParser, *, verb: str) -> None:
    """The `--by` option: who the action record and the event name (default: the OS user)."""
    parser.add_argument("--by", default=getpass.getuser(), help=BY_HELP[verb])


def command_actor(by: str) -> Actor:
    """The operator at this shell, as the action record names them (CommandError for an empty or long name)."""
    if not by.strip() or len(by) > ACTOR_NAME_MAX:
        raise CommandError(_(BAD_ACTOR_TEMPLATE).format(maximum=ACTOR_NAME_MAX))
    if unstorable(by):  # command-line bytes that are not UTF-8 arrive as lone surrogates (surrogateescape)
        raise CommandError(_(BAD_ACTOR_TEXT))
    return Actor.of_command(by)


def councilor_or_error(councilor_id: str) -> Councilor:
    """The councilor whose agent_id is `councilor_id`, or CommandError naming the ids that exist."""
    try:
        return councilor_get(councilor_id=councilor_id)
    except Councilor.DoesNotExist:
        known = ", ".join(Councilor.objects.order_by("agent__agent_id").values_list("agent__agent_id", flat=True))
        raise CommandError(_(UNKNOWN_COUNCILOR).format(councilor_id=councilor_id, known=known or _(NO_IDS))) from None
