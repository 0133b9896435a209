"""`manage.py run_councilor <id> [--wait]`: run one councilor now, on a worker if one is alive."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from councilors import selectors, services
from councilors.management.lookup import add_by_argument, command_actor, councilor_or_error
from councilors.models import Execution, SkippedRun
from councilors.run_errors import run_error_text
from councilors.verdicts import run_verdict
from infrastructure.commands import OperatorCommand
from infrastructure.formatting import duration_text

DEFAULT_WAIT_S = 300.0
OUTPUT_PREVIEW_CHARS = 2000
WAIT_TIMED_OUT = gettext_noop(
    "Execution {execution_id} did not finish within {timeout:g}s; it may still be queued or running."
)
RUN_FAILED = gettext_noop("Execution {execution_id} failed: {error}")
RUN_SKIPPED = gettext_noop("Run {execution_id} of {councilor_id} was skipped: {reason}.")
BAD_TIMEOUT = gettext_noop("--timeout must be a positive number of seconds.")
# The verdict as the pages word it, then the record's own values (greppable, the same in every language).
RESULT = gettext_noop("{execution_id}: {icon} {verdict} ({duration}; {status}, severity {severity})")


class Command(OperatorCommand):
    help = gettext_lazy(
        "Run one councilor now. With a live worker cluster the run is queued (add --wait to wait for it); "
        "without one it runs in this process. Exits 1 when the run ends in error."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("councilor_id", help=gettext_lazy("the councilor's id (its agent's agent_id)"))
        parser.add_argument(
            "--wait", action="store_true", help=gettext_lazy("wait for a queued run to finish and show it")
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_WAIT_S,
            help=gettext_lazy("seconds --wait waits (default %(default)s)"),
        )
        add_by_argument(parser, verb="ran")

    def handle(self, *args, councilor_id: str, wait: bool, timeout: float, by: str, **options) -> None:
        if timeout <= 0:
            raise CommandError(_(BAD_TIMEOUT))
        actor = command_actor(by)
        councilor = councilor_or_error(councilor_id)
        result = services.councilor_run_now(councilor=councilor, actor=actor)
        if result.queued:
            self.stdout.write(
                _("Queued %(id)s for a worker cluster as %(execution_id)s.")
                % {"id": councilor_id, "execution_id": result.execution_id}
            )
            if not wait:
                return
            execution = selectors.execution_wait_finished(execution_id=result.execution_id, timeout=timeout)
            if execution is None:
                raise CommandError(_(WAIT_TIMED_OUT).format(execution_id=result.execution_id, timeout=timeout))
        elif result.skipped is not None:
            execution = result.skipped
        else:
            self.stdout.write(_("No worker cluster is running; ran %(id)s in this process.") % {"id": councilor_id})
            execution = result.execution
        self._report(execution)

    def _report(self, execution: Execution | SkippedRun) -> None:
        if isinstance(execution, SkippedRun):
            raise CommandError(
                _(RUN_SKIPPED).format(
                    execution_id=execution.execution_id,
                    councilor_id=execution.councilor.councilor_id,
                    reason=execution.get_reason_display().lower(),
                )
            )
        verdict = run_verdict(execution.status, execution.severity)
        style = {"success": self.style.SUCCESS, "warning": self.style.WARNING}.get(verdict.tone, self.style.ERROR)
        line = _(RESULT).format(
            execution_id=execution.execution_id,
            icon=verdict.icon,
            verdict=verdict.label,
            duration=duration_text(execution.duration_ms),
            status=execution.status,
            severity=execution.severity,
        )
        self.stdout.write(style(line))
        if execution.output:
            self.stdout.write(execution.output[:OUTPUT_PREVIEW_CHARS].rstrip())
        if execution.status in Execution.FAILED:
            error = run_error_text(execution.error)
            raise CommandError(_(RUN_FAILED).format(execution_id=execution.execution_id, error=error))
