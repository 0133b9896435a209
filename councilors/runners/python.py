"""Calls a Python callable `f(prompt: str, context: dict) -> str` by its dotted path.

Only callables of the modules listed in COUNCILORS_PYTHON_RUNNER_MODULES: importing a module runs
its code, and a dotted path such as `builtins.eval` or `os.system` would run the prompt. The list is
checked before anything is imported, when the agent is saved and again at each run (it may change).
"""

import concurrent.futures
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string
from django.utils.translation import gettext, gettext_noop

from councilors.app_settings import app_settings
from councilors.runners.base import OutputCallback, RunCancelled, RunControl, Runner, RunnerError, RunTimedOut
from councilors.runners.bounded import BoundedOutput

# The name under which a callable finds its cancellation check in `context`: `context["cancelled"]()`.
CANCELLED_CHECK = "cancelled"
# Each refusal is a settings error (shown to the admin in their language) and, when the settings
# changed since the agent was saved, a run error (recorded in English, worded for each reader by
# councilors/run_errors.py).
CALLABLE_INVALID = gettext_noop('callable must be a dotted path to a function, e.g. "myapp.agents.review".')
CALLABLE_NOT_FOUND = gettext_noop("callable %(path)r cannot be imported: %(reason)s")
CALLABLE_NOT_ALLOWED = gettext_noop(
    "callable %(path)r is not in a module listed in COUNCILORS_PYTHON_RUNNER_MODULES (now: %(allowed)s); "
    "an admin of the server adds the module (or its package) to that setting."
)
CANNOT_IMPORT = "cannot import %(path)r: %(reason)s"
NO_MODULES = gettext_noop("none")


class CallableRefused(ValueError):
    """A callable the runner will not call: `message` (English) with `params`, worded by `text()`."""

    def __init__(self, message: str, params: dict[str, Any] | None = None) -> None:
        self.message, self.params = message, params or {}
        super().__init__(message % self.params if self.params else message)

    def text(self) -> str:
        """The refusal in the active language."""
        params = {**self.params}
        if params.get("allowed") == NO_MODULES:
            params["allowed"] = gettext(NO_MODULES)
        return gettext(self.message) % params if params else gettext(self.message)


def module_allowed(module: str, allowed: list[str]) -> bool:
    """Whether `module` is one of `allowed` or inside one of them (a package, at a dot boundary)."""
    return any(module == entry or module.startswith(f"{entry}.") for entry in allowed)


def _allowed_target(path: str) -> Any:
    """The callable at `path`, imported only when its module is allowed and checked to be defined there.

    Raises CallableRefused (not allowed, not callable) or ImportError.
    """
    allowed = app_settings.PYTHON_RUNNER_MODULES
    refusal = CallableRefused(CALLABLE_NOT_ALLOWED, {"path": path, "allowed": ", ".join(allowed) or NO_MODULES})
    if not module_allowed(path.rsplit(".", 1)[0], allowed):
        raise refusal
    target = import_string(path)
    if not callable(target):
        raise CallableRefused(CALLABLE_INVALID)
    # A name an allowed module merely imported (`from os import system`) is not its code.
    if not module_allowed(getattr(target, "__module__", None) or "", allowed):
        raise refusal
    return target


class PythonRunner(Runner):
    """The callable's return value is the output; an exception or a timeout fails the run."""

    name = "python"

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        super().validate_config(config)
        path = config.get("callable")
        if not isinstance(path, str) or "." not in path:
            raise ValidationError({"runner_config": gettext(CALLABLE_INVALID)})
        try:
            _allowed_target(path)
        except CallableRefused as exc:
            raise ValidationError({"runner_config": exc.text()}) from exc
        except ImportError as exc:
            not_found = gettext(CALLABLE_NOT_FOUND) % {"path": path, "reason": exc}
            raise ValidationError({"runner_config": not_found}) from exc

    def run(
        self,
        prompt: str,
        context: dict[str, Any],
        on_output: OutputCallback | None = None,
        control: RunControl | None = None,
    ) -> str:
        try:
            target = _allowed_target(self.config["callable"])
        except CallableRefused as exc:
            raise RunnerError(str(exc)) from exc
        except ImportError as exc:
            raise RunnerError(CANNOT_IMPORT % {"path": self.config["callable"], "reason": exc}) from exc
        control = control or RunControl()
        # The callable's cooperative check: it looks at context["cancelled"]() and returns early.
        context = {**context, CANCELLED_CHECK: control.cancelled}
        # A thread cannot be killed: on timeout or cancel the run ends and the thread is abandoned
        # (daemon), which is the best Python offers for in-process callables.
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        future = executor.submit(target, prompt, context)
        executor.shutdown(wait=False)
        timeout = self.timeout_for(control)
        try:
            result = _result_unless_stopped(future, timeout=timeout, control=control)
        except RunnerError:
            raise
        except Exception as exc:  # noqa: BLE001 - any exception of the callable is the run's failure
            raise RunnerError(f"{type(exc).__name__}: {exc}") from exc
        output = BoundedOutput(on_output=on_output)
        output.feed(result if isinstance(result, str) else str(result))
        output.close()
        if control.cancelled():
            raise RunCancelled(output=output.text())
        return output.text()


def _result_unless_stopped(future: concurrent.futures.Future, *, timeout: float, control: RunControl) -> Any:
    """The callable's result, or the run's end at its timeout: cancelled if it was asked to stop, else timed out.

    A cancel does not end the wait: the callable is expected to see `context["cancelled"]()` and return
    (its output so far is then kept); one that ignores it is abandoned at its timeout.
    """
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        if control.cancelled():
            raise RunCancelled() from None
        raise RunTimedOut(timeout) from None
