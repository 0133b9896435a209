"""`manage.py prune_runs [--dry-run]`: delete runs past retention now (docs/operations.md, "Retention")."""

import getpass

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from councilors.management.lookup import command_actor
from councilors.retention import PRUNE_BATCH, PRUNE_THROTTLE, RetentionError, executions_prune, retention_limits
from infrastructure.commands import OperatorCommand


class Command(OperatorCommand):
    help = gettext_lazy(
        "Delete runs older than COUNCILORS_KEEP_RUNS_DAYS beyond each agent's newest COUNCILORS_KEEP_RUNS_MIN "
        "(never queued or running ones), in small batches; prints how many per agent."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help=gettext_lazy("only print what would be deleted"))
        parser.add_argument(
            "--batch-size", type=int, default=PRUNE_BATCH, help=gettext_lazy("runs deleted per transaction")
        )
        parser.add_argument(
            "--throttle",
            type=float,
            default=PRUNE_THROTTLE,
            help=gettext_lazy("after each batch, wait this many times as long as it took (0: no wait)"),
        )
        parser.add_argument(
            "--by", default=getpass.getuser(), help=gettext_lazy("who prunes (default: your user name)")
        )

    def handle(self, *args, dry_run: bool, batch_size: int, throttle: float, by: str, **options) -> None:
        actor = command_actor(by)
        try:
            days, keep = retention_limits()
            result = executions_prune(
                actor=actor,
                dry_run=dry_run,
                batch_size=batch_size,
                throttle=throttle,
                on_agent=lambda agent_id, count: self._line(agent_id, count, dry_run),
            )
        except RetentionError as exc:
            raise CommandError(exc.translated()) from None
        template = (
            ngettext("Would delete %(count)d run", "Would delete %(count)d runs", result.total)
            if dry_run
            else ngettext("Deleted %(count)d run", "Deleted %(count)d runs", result.total)
        )
        summary = template % {"count": result.total}
        kept = _("(older than %(days)d days, beyond the newest %(keep)d of each agent).") % {"days": days, "keep": keep}
        self.stdout.write(self.style.SUCCESS(f"{summary} {kept}"))

    def _line(self, agent_id: str, count: int, dry_run: bool) -> None:
        template = (
            ngettext("%(agent)s: would delete %(count)d run", "%(agent)s: would delete %(count)d runs", count)
            if dry_run
            else ngettext("%(agent)s: deleted %(count)d run", "%(agent)s: deleted %(count)d runs", count)
        )
        self.stdout.write(template % {"agent": agent_id, "count": count})
