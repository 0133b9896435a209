"""`manage.py run_councilor <id> [--wait]`: run one councilor now, on a worker if one is alive."""

from django.core.management.base import BaseCommand, CommandError

from councilors import selectors, services
from councilors.management.lookup import add_by_argument, command_actor, councilor_or_error
from councilors.models import Execution, SkippedRun

DEFAULT_WAIT_S = 300.0
OUTPUT_PREVIEW_CHARS = 2000
WAIT_TIMED_OUT = "Execution {execution_id} did not finish within {timeout:g}s; it may still be queued or running."
RUN_FAILED = "Execution {execution_id} failed: {error}"
RUN_SKIPPED = "Run {execution_id} of {councilor_id} was skipped: {reason}."


class Command(BaseCommand):
    help = (
        "Run one councilor now. With a live worker cluster the run is queued (add --wait to wait for it); "
        "without one it runs in this process. Exits 1 when the run ends in error."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("councilor_id", help="the councilor's id (its agent's agent_id)")
        parser.add_argument("--wait", action="store_true", help="wait for a queued run to finish and show it")
        parser.add_argument(
            "--timeout", type=float, default=DEFAULT_WAIT_S, help="seconds --wait waits (default %(default)s)"
        )
        add_by_argument(parser, verb="ran")

    def handle(self, *args, councilor_id: str, wait: bool, timeout: float, by: str, **options) -> None:
        if timeout <= 0:
            raise CommandError("--timeout must be a positive number of seconds.")
        actor = command_actor(by)
        councilor = councilor_or_error(councilor_id)
        result = services.councilor_run_now(councilor=councilor, actor=actor)
        if result.queued:
            self.stdout.write(f"Queued {councilor_id} for a worker cluster as {result.execution_id}.")
            if not wait:
                return
            execution = selectors.execution_wait_finished(execution_id=result.execution_id, timeout=timeout)
            if execution is None:
                raise CommandError(WAIT_TIMED_OUT.format(execution_id=result.execution_id, timeout=timeout))
        elif result.skipped is not None:
            execution = result.skipped
        else:
            self.stdout.write(f"No worker cluster is running; ran {councilor_id} in this process.")
            execution = result.execution
        self._report(execution)

    def _report(self, execution: Execution | SkippedRun) -> None:
        if isinstance(execution, SkippedRun):
            raise CommandError(
                RUN_SKIPPED.format(
                    execution_id=execution.execution_id,
                    councilor_id=execution.councilor.councilor_id,
                    reason=execution.get_reason_display().lower(),
                )
            )
        style = {"success": self.style.SUCCESS, "warning": self.style.WARNING}.get(execution.severity, self.style.ERROR)
        seconds = (execution.duration_ms or 0) / 1000
        self.stdout.write(
            style(f"{execution.execution_id}: {execution.status}, severity {execution.severity} ({seconds:.1f}s)")
        )
        if execution.output:
            self.stdout.write(execution.output[:OUTPUT_PREVIEW_CHARS].rstrip())
        if execution.status == Execution.Status.ERROR:
            raise CommandError(RUN_FAILED.format(execution_id=execution.execution_id, error=execution.error))
