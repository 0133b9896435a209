"""Calls a Python callable `f(prompt: str, context: dict) -> str` by its dotted path."""

import concurrent.futures
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string

from councilors.runners.base import OutputCallback, Runner, RunnerError

CALLABLE_INVALID = 'callable must be a dotted path to a function, e.g. "myapp.agents.review".'
CALLABLE_NOT_FOUND = "callable %(path)r cannot be imported: %(reason)s"


class PythonRunner(Runner):
    """The callable's return value is the output; an exception or a timeout fails the run."""

    name = "python"

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        super().validate_config(config)
        path = config.get("callable")
        if not isinstance(path, str) or "." not in path:
            raise ValidationError({"runner_config": CALLABLE_INVALID})
        try:
            target = import_string(path)
        except ImportError as exc:
            raise ValidationError({"runner_config": CALLABLE_NOT_FOUND % {"path": path, "reason": exc}}) from exc
        if not callable(target):
            raise ValidationError({"runner_config": CALLABLE_INVALID})

    def run(self, prompt: str, context: dict[str, Any], on_output: OutputCallback | None = None) -> str:
        try:
            target = import_string(self.config["callable"])
        except ImportError as exc:
            raise RunnerError(f"cannot import {self.config['callable']!r}: {exc}") from exc
        # A thread cannot be killed: on timeout the run is reported failed and the thread is
        # abandoned (daemon), which is the best Python offers for in-process callables.
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        future = executor.submit(target, prompt, context)
        executor.shutdown(wait=False)
        try:
            result = future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            raise RunnerError(f"timed out after {self.timeout:g}s") from None
        except Exception as exc:  # noqa: BLE001 - any exception of the callable is the run's failure
            raise RunnerError(f"{type(exc).__name__}: {exc}") from exc
        output = result if isinstance(result, str) else str(result)
        if on_output is not None:
            on_output(output)
        return output
