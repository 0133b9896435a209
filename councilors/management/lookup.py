"""Shared by the management commands: find a councilor by id or fail with a clear error."""

from django.core.management.base import CommandError

from councilors.models import Councilor
from councilors.selectors import councilor_get

UNKNOWN_COUNCILOR = "No councilor with id {councilor_id!r}. Known ids: {known} (see `manage.py list_councilors`)."


def councilor_or_error(councilor_id: str) -> Councilor:
    """The councilor whose agent_id is `councilor_id`, or CommandError naming the ids that exist."""
    try:
        return councilor_get(councilor_id=councilor_id)
    except Councilor.DoesNotExist:
        known = ", ".join(Councilor.objects.order_by("agent__agent_id").values_list("agent__agent_id", flat=True))
        raise CommandError(UNKNOWN_COUNCILOR.format(councilor_id=councilor_id, known=known or "none")) from None
