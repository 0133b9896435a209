"""`manage.py list_councilors`: a table of councilors with their schedule and latest run."""

from django.core.management.base import BaseCommand

from councilors.selectors import councilors_overview

HEADERS = ("id", "title", "schedule", "enabled", "last run", "severity")
NO_COUNCILORS = "No councilors yet (`manage.py seed_demo` creates demo ones)."


class Command(BaseCommand):
    help = "List councilors: id, title, schedule, enabled, last run and its severity."

    def handle(self, *args, **options) -> None:
        rows = [
            (
                councilor.councilor_id,
                councilor.title,
                f"{councilor.schedule_type} {councilor.schedule_value}",
                "yes" if councilor.enabled else "paused",
                councilor.last_started_at.strftime("%Y-%m-%d %H:%M:%S") if councilor.last_started_at else "never",
                councilor.last_status if councilor.last_status == "running" else (councilor.last_severity or "-"),
            )
            for councilor in councilors_overview().order_by("agent__agent_id")
        ]
        if not rows:
            self.stdout.write(NO_COUNCILORS)
            return
        widths = [max(len(str(row[i])) for row in (HEADERS, *rows)) for i in range(len(HEADERS))]
        for row in (HEADERS, *rows):
            self.stdout.write(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
