"""`manage.py cancel_run <execution_id> [--wait]`: cancel a run, wherever it runs (docs/http-api.md, "Cancel it")."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from councilors.cancellation import CancelRefused, Outcome, execution_cancel
from councilors.management.lookup import add_by_argument, command_actor
from councilors.models import Execution
from councilors.selectors import execution_wait_finished
from councilors.verdicts import run_verdict
from infrastructure.commands import OperatorCommand

BAD_TIMEOUT = gettext_noop("--timeout must be a positive number of seconds.")
WAIT_TIMED_OUT = gettext_noop("{run} has not ended after {timeout:g}s; it is still being stopped.")
ENDED = gettext_noop("{run} ended: {icon} {verdict}.")


class Command(OperatorCommand):
    help = gettext_lazy(
        "Cancel a run: one that has not started ends at once; a running one is stopped by its worker within "
        "2 seconds (add --wait to wait for that). A run that already ended is left as it is."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("execution_id", help=gettext_lazy("the run's execution_id (as its page's address shows)"))
        parser.add_argument("--wait", action="store_true", help=gettext_lazy("wait until the run has ended"))
        parser.add_argument(
            "--timeout", type=float, default=30.0, help=gettext_lazy("seconds --wait waits (default %(default)s)")
        )
        add_by_argument(parser, verb="cancelled")

    def handle(self, *args, execution_id: str, wait: bool, timeout: float, by: str, **options) -> None:
        if not timeout > 0:
            raise CommandError(_(BAD_TIMEOUT))
        try:
            result = execution_cancel(execution_id=execution_id, actor=command_actor(by))
        except CancelRefused as refused:
            raise CommandError(refused.message) from None
        if result.outcome == Outcome.ALREADY_ENDED:
            self.stdout.write(self.style.WARNING(result.message))
            return
        self.stdout.write(self.style.SUCCESS(result.message))
        if wait and result.outcome == Outcome.CANCELLING:
            self._wait(result.execution_id, run=result.run_title, timeout=timeout)

    def _wait(self, execution_id: str, *, run: str, timeout: float) -> None:
        ended = execution_wait_finished(execution_id=execution_id, timeout=timeout)
        if not isinstance(ended, Execution):
            raise CommandError(_(WAIT_TIMED_OUT).format(run=run, timeout=timeout))
        verdict = run_verdict(ended.status, ended.severity)
        self.stdout.write(_(ENDED).format(run=run, icon=verdict.icon, verdict=verdict.label))
