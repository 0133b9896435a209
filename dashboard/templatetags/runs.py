"""Template helpers of the pages: a run's one verdict, labels and durations as the scripts write them."""

from datetime import datetime

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from councilors.labels import runner_label as _runner_label
from councilors.run_errors import run_error_text
from councilors.verdicts import run_verdict
from infrastructure.formatting import duration_text

register = template.Library()


@register.filter
def duration(duration_ms: int | None) -> str:
    """ "23ms", "0.3s", "1.2s", "15s" (in Portuguese "2,1 s"; as the scripts write them); "—" when unknown."""
    return duration_text(duration_ms)


@register.filter
def iso_moment(value: str | None) -> datetime | None:
    """A time the page's config carries as ISO 8601 text, as a datetime for `|date` (None if it is none)."""
    return parse_datetime(value) if value else None


@register.filter
def status_label(status: str) -> str:
    """A run's status in the page's language (the filters' choices; a run shows its verdict)."""
    labels = {
        "queued": _("Queued"),
        "running": _("Running"),
        "completed": _("Completed"),
        "error": _("Error"),
        "cancelled": _("Cancelled"),
        "timed_out": _("Timed out"),
    }
    return labels.get(status, status)


@register.filter
def severity_label(severity: str | None) -> str:
    """A run's severity in the page's language ("—" while it has none)."""
    labels = {"success": _("Success"), "warning": _("Warning"), "error": _("Error")}
    return labels.get(severity or "", "—")


@register.filter
def runner_label(runner: str) -> str:
    """An agent's runner in the page's language."""
    return _runner_label(runner)


@register.filter
def run_error(error: str | None) -> str:
    """A run's recorded error in the page's language, when it is one of the project's own texts."""
    return run_error_text(error)


@register.simple_tag
def verdict(status: str | None, severity: str | None = None, element_id: str = "") -> SafeString:
    """A run's one verdict badge: `<span class="verdict tone-…" data-status data-severity data-verdict>`."""
    found = run_verdict(status, severity)
    return format_html(
        '<span class="verdict tone-{}"{} data-status="{}" data-severity="{}" data-verdict="{}">{} {}</span>',
        found.tone,
        format_html(' id="{}"', element_id) if element_id else "",
        status or "",
        severity or "",
        found.key,
        found.icon,
        found.label,
    )
