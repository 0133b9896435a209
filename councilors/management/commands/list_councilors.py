"""`manage.py list_councilors`: a table of councilors with their schedule and latest run."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from councilors.models import Councilor
from councilors.selectors import councilors_overview
from councilors.verdicts import run_verdict
from infrastructure.commands import OperatorCommand
from infrastructure.formatting import moment_text

HEADERS = (
    gettext_lazy("id"),
    gettext_lazy("title"),
    gettext_lazy("schedule"),
    gettext_lazy("enabled"),
    gettext_lazy("last run"),
    gettext_lazy("result"),
)
NO_COUNCILORS = gettext_noop("No councilors yet (`manage.py seed_demo` creates demo ones).")


def _last_result(councilor: Councilor) -> str:
    """The last run's one verdict (as the pages word it), or "-" before any run."""
    if not councilor.last_status:
        return "-"
    return str(run_verdict(councilor.last_status, councilor.last_severity).label)


class Command(OperatorCommand):
    help = gettext_lazy("List councilors: id, title, schedule, enabled, last run and its result.")

    def handle(self, *args, **options) -> None:
        rows = [
            (
                councilor.councilor_id,
                councilor.title,
                councilor.schedule_label,
                _("yes") if councilor.enabled else _("paused"),
                moment_text(councilor.last_started_at, short=True) if councilor.last_started_at else _("never"),
                _last_result(councilor),
            )
            for councilor in councilors_overview().order_by("agent__agent_id")
        ]
        if not rows:
            self.stdout.write(_(NO_COUNCILORS))
            return
        widths = [max(len(str(row[i])) for row in (HEADERS, *rows)) for i in range(len(HEADERS))]
        for row in (HEADERS, *rows):
            self.stdout.write(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
