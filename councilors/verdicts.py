"""One verdict per run: its status and severity said in one wording, so they cannot read as two.

A run that exits 0 but prints "ERROR" is *completed* with severity *error*: shown as two badges
that read "Completed" beside "Error", and a failed run as "Error Error". Here each pair gets one
label and one tone. The pages' scripts word it the same way (`runVerdict` in
static/js/gamification/verdict.js; tests/councilors/test_verdicts.py checks that both tables agree).
Statuses (SPEC §2): queued, running, completed, error, cancelled, timed_out.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, pgettext_lazy


@dataclass(frozen=True)
class Verdict:
    key: str  # stable name for CSS and tests: verdict-<key>
    tone: str  # colour family: queued, running, success, warning, error, neutral
    icon: str
    label: Promise | str


QUEUED = Verdict("queued", "queued", "⏳", pgettext_lazy("run verdict", "Queued"))
RUNNING = Verdict("running", "running", "▶️", pgettext_lazy("run verdict", "Running"))
SUCCEEDED = Verdict("succeeded", "success", "✅", pgettext_lazy("run verdict", "Succeeded"))
WARNINGS = Verdict("warnings", "warning", "⚠️", pgettext_lazy("run verdict", "Completed with warnings"))
REPORTED_ERRORS = Verdict("reported_errors", "error", "❌", pgettext_lazy("run verdict", "Completed, reported errors"))
FAILED = Verdict("failed", "error", "❌", pgettext_lazy("run verdict", "Failed"))
CANCELLED = Verdict("cancelled", "neutral", "⏹️", pgettext_lazy("run verdict", "Cancelled"))
TIMED_OUT = Verdict("timed_out", "error", "⌛", pgettext_lazy("run verdict", "Timed out"))

BY_STATUS = {"queued": QUEUED, "running": RUNNING, "error": FAILED, "cancelled": CANCELLED, "timed_out": TIMED_OUT}
COMPLETED_BY_SEVERITY = {"success": SUCCEEDED, "warning": WARNINGS, "error": REPORTED_ERRORS}
VERDICTS = (QUEUED, RUNNING, SUCCEEDED, WARNINGS, REPORTED_ERRORS, FAILED, CANCELLED, TIMED_OUT)
# Statuses this code knows of, and a few more to come: anything else is shown as is, in a neutral badge.
UNKNOWN_TONE = "neutral"
UNKNOWN_ICON = "•"
UNKNOWN_LABEL = gettext_lazy("Unknown")


def run_verdict(status: str | None, severity: str | None = None) -> Verdict:
    """The one verdict of a run whose record says `status` and `severity`."""
    if status == "completed":
        return COMPLETED_BY_SEVERITY.get(severity or "", SUCCEEDED)
    if status in BY_STATUS:
        return BY_STATUS[status]
    return Verdict(status or "unknown", UNKNOWN_TONE, UNKNOWN_ICON, status or UNKNOWN_LABEL)
