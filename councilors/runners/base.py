"""The interface every runner implements, and the error it raises when a run fails."""

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from django.core.exceptions import ValidationError

OutputCallback = Callable[[str], None]
DEFAULT_TIMEOUT_S = 60
TIMEOUT_INVALID = "timeout must be a positive number of seconds; got %(value)r."


class RunnerError(Exception):
    """A run failed: non-zero exit, HTTP error, exception or timeout. `output` keeps what it printed."""

    def __init__(self, reason: str, *, output: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.output = output


class Runner(ABC):
    """Runs an agent's work. Subclasses set `name` and implement `run` and `validate_config`."""

    name: ClassVar[str]

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @property
    def timeout(self) -> float:
        """Seconds the run may take before it is stopped and counted as an error."""
        return float(self.config.get("timeout", DEFAULT_TIMEOUT_S))

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Raise ValidationError naming the first bad setting in `config`."""
        timeout = config.get("timeout", DEFAULT_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValidationError({"runner_config": TIMEOUT_INVALID % {"value": timeout}})

    @abstractmethod
    def run(self, prompt: str, context: dict[str, Any], on_output: OutputCallback | None = None) -> str:
        """Do the work and return its output text; raise RunnerError when it fails."""
