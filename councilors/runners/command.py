"""Runs an argv list (never through a shell) and returns what it printed."""

import os
import subprocess
import threading
from typing import Any

from django.core.exceptions import ValidationError

from councilors.runners.base import OutputCallback, Runner, RunnerError

ARGV_INVALID = 'argv must be a non-empty list of strings, e.g. ["python", "--version"].'
ENV_INVALID = "env must be an object of string names to string values."
CWD_INVALID = "cwd must be a path string."
PROMPT_PLACEHOLDER = "{prompt}"


class CommandRunner(Runner):
    """stdout and stderr, merged and streamed line by line, are the output; non-zero exit fails."""

    name = "command"

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        super().validate_config(config)
        argv = config.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(arg, str) for arg in argv):
            raise ValidationError({"runner_config": ARGV_INVALID})
        env = config.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ValidationError({"runner_config": ENV_INVALID})
        if not isinstance(config.get("cwd", ""), str):
            raise ValidationError({"runner_config": CWD_INVALID})

    def run(self, prompt: str, context: dict[str, Any], on_output: OutputCallback | None = None) -> str:
        argv = [arg.replace(PROMPT_PLACEHOLDER, prompt) for arg in self.config["argv"]]
        env = {**os.environ, **self.config.get("env", {}), "CONDUCTOR_PROMPT": prompt}
        try:
            process = subprocess.Popen(
                argv,
                cwd=self.config.get("cwd") or None,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                start_new_session=True,
            )
        except OSError as exc:
            raise RunnerError(f"could not start {argv[0]!r}: {exc.strerror or exc}") from exc
        lines: list[str] = []
        reader = threading.Thread(target=_collect_lines, args=(process, lines, on_output), daemon=True)
        reader.start()
        try:
            returncode = process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            reader.join(timeout=2)
            raise RunnerError(f"timed out after {self.timeout:g}s", output="".join(lines)) from None
        reader.join()
        output = "".join(lines)
        if returncode != 0:
            raise RunnerError(f"exited with status {returncode}", output=output)
        return output


def _collect_lines(process: subprocess.Popen, lines: list[str], on_output: OutputCallback | None) -> None:
    for line in process.stdout:
        lines.append(line)
        if on_output is not None:
            on_output(line)
    process.stdout.close()


def _kill_group(process: subprocess.Popen) -> None:
    # The command may have started children of its own; they share its new session's group.
    try:
        os.killpg(process.pid, 9)
    except ProcessLookupError:
        pass
    process.wait()
