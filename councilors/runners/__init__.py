"""Runner registry: maps an agent's `runner` choice to the class that runs it."""

from typing import Any

from councilors.runners.base import RunCancelled, RunControl, RunLimitExceeded, Runner, RunnerError, RunTimedOut
from councilors.runners.command import CommandRunner
from councilors.runners.http import HttpRunner
from councilors.runners.python import PythonRunner

RUNNERS: dict[str, type[Runner]] = {runner.name: runner for runner in (CommandRunner, HttpRunner, PythonRunner)}


def get_runner(name: str, config: dict[str, Any]) -> Runner:
    """The runner instance for `name` with its settings."""
    return RUNNERS[name](config)


__all__ = [
    "RUNNERS",
    "RunCancelled",
    "RunControl",
    "RunLimitExceeded",
    "Runner",
    "RunnerError",
    "RunTimedOut",
    "get_runner",
]
