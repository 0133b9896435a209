"""Template helpers of the run and agent pages: labels and durations as the scripts write them."""

import math

from django import template
from django.utils.translation import gettext as _

register = template.Library()

# As formatSeconds in static/js/gamification/titles.js: a 23 ms run reads "23ms", not "0s".
MILLISECONDS_BELOW_MS = 100
WHOLE_SECONDS_FROM_MS = 9950


def _half_up(value: float) -> int:
    # JavaScript's Math.round rounds halves up; Python's round() rounds them to even.
    return math.floor(value + 0.5)


@register.filter
def duration(duration_ms: int | None) -> str:
    """ "23ms", "0.3s", "1.2s", "15s" (as the scripts write them); "—" when unknown."""
    if not isinstance(duration_ms, int | float):  # None while running; "" for a queued run (no record)
        return "—"
    if _half_up(duration_ms) < MILLISECONDS_BELOW_MS:
        return f"{_half_up(duration_ms)}ms"
    if duration_ms < WHOLE_SECONDS_FROM_MS:
        return f"{_half_up(duration_ms / 100) / 10:g}s"
    return f"{_half_up(duration_ms / 1000)}s"


@register.filter
def status_label(status: str) -> str:
    """A run's status in the page's language."""
    labels = {"queued": _("Queued"), "running": _("Running"), "completed": _("Completed"), "error": _("Error")}
    return labels.get(status, status)


@register.filter
def severity_label(severity: str | None) -> str:
    """A run's severity in the page's language ("—" while it has none)."""
    labels = {"success": _("Success"), "warning": _("Warning"), "error": _("Error")}
    return labels.get(severity or "", "—")
