"""The interface every runner implements, what a worker holds on a run in flight, and how a run fails."""

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_noop

OutputCallback = Callable[[str], None]
DEFAULT_TIMEOUT_S = 60
# Settings errors are shown to the admin in their language (translated when raised); run errors
# (below) are recorded in English and worded for each reader by councilors/run_errors.py.
TIMEOUT_INVALID = gettext_noop("timeout must be a positive number of seconds; got %(value)r.")
TIMED_OUT = "timed out after %(seconds)gs"
CANCELLED = "cancelled"


def _as_written(text: str) -> str:
    return text


# Words a run error text for the reader: councilors/run_errors.py's `run_error_text`, which the app
# installs when it is ready (its table is built from every runner's texts, so the runners cannot
# import it without a cycle). Until then, and outside Django, a text stays as written.
_reader_language: Callable[[str], str] = _as_written


def reader_language_install(translate: Callable[[str], str]) -> None:
    """Set how `in_reader_language` words a text (CouncilorsConfig.ready installs run_errors.run_error_text)."""
    global _reader_language
    _reader_language = translate


def in_reader_language(text: str) -> str:
    """A run error text (one a run records, and a save refuses) in the active language: councilors/run_errors.py."""
    return _reader_language(text)


class RunnerError(Exception):
    """A run failed: non-zero exit, HTTP error, exception or a limit. `output` keeps what it printed."""

    def __init__(self, reason: str, *, output: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.output = output


class RunLimitExceeded(RunnerError):
    """The run hit one of its resource limits; `limit` names it (cpu_seconds, memory_mb, processes, file_size_mb)."""

    def __init__(self, reason: str, *, limit: str, output: str = "") -> None:
        super().__init__(reason, output=output)
        self.limit = limit


class RunTimedOut(RunnerError):
    """The run took longer than its timeout (`seconds`) and was stopped."""

    def __init__(self, seconds: float, *, output: str = "") -> None:
        super().__init__(TIMED_OUT % {"seconds": seconds}, output=output)
        self.seconds = seconds


class RunCancelled(RunnerError):
    """Someone asked the run to stop (RunControl.stop) and it was stopped."""

    def __init__(self, *, output: str = "") -> None:
        super().__init__(CANCELLED, output=output)


@dataclass
class RunControl:
    """What the worker holds on a run in flight: how long it may take, and a way to stop it.

    Whoever cancels the run sets `stop`; runners watch it and end the work (a command's whole
    process tree killed, a request aborted, a callable asked through `cancelled()`), then raise
    RunCancelled. `timeout_s` overrides the runner's configured timeout (a councilor's own).
    """

    timeout_s: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def cancelled(self) -> bool:
        """Whether the run has been asked to stop."""
        return self.stop.is_set()


class Runner(ABC):
    """Runs an agent's work. Subclasses set `name` and implement `run` and `validate_config`."""

    name: ClassVar[str]

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @property
    def timeout(self) -> float:
        """Seconds the run may take before it is stopped and counted as timed out."""
        return float(self.config.get("timeout", DEFAULT_TIMEOUT_S))

    def timeout_for(self, control: RunControl | None) -> float:
        """The timeout of this run: the control's override when it has one, else the configured one."""
        if control is not None and control.timeout_s is not None:
            return float(control.timeout_s)
        return self.timeout

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Raise ValidationError naming the first bad setting in `config`."""
        timeout = config.get("timeout", DEFAULT_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValidationError({"runner_config": gettext(TIMEOUT_INVALID) % {"value": timeout}})

    @abstractmethod
    def run(
        self,
        prompt: str,
        context: dict[str, Any],
        on_output: OutputCallback | None = None,
        control: RunControl | None = None,
    ) -> str:
        """Do the work and return its output text; raise RunnerError (RunTimedOut, RunCancelled) when it fails."""
