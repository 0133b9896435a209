"""Runs an argv list (never through a shell) and returns what it printed, bounded.

The prompt goes to the command's stdin (written, then closed) and to $CONDUCTOR_PROMPT; `{prompt}`
in argv is replaced only where `argv_policy` allows it (a whole argument after `--`). The child
gets an allowlisted environment (`environment`), never the server's.
"""

import codecs
import io
import os
import subprocess
import threading
import time
from typing import IO, Any

from django.core.exceptions import ValidationError

from councilors.runners.argv_policy import PROMPT_PLACEHOLDER, argv_problem
from councilors.runners.base import OutputCallback, RunCancelled, RunControl, Runner, RunnerError, RunTimedOut
from councilors.runners.bounded import BoundedOutput
from councilors.runners.environment import ENV_SECRET_NAME, child_environment, env_secret_names

ARGV_INVALID = 'argv must be a non-empty list of strings, e.g. ["python", "--version"].'
ENV_INVALID = "env must be an object of string names to string values."
CWD_INVALID = "cwd must be a path string."
READ_CHUNK_BYTES = 65_536
# How often a running command looks at its stop request: a cancel takes effect within this.
STOP_POLL_S = 0.1


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
        if secrets := env_secret_names(env):
            raise ValidationError({"runner_config": ENV_SECRET_NAME % {"names": ", ".join(secrets)}})
        if not isinstance(config.get("cwd", ""), str):
            raise ValidationError({"runner_config": CWD_INVALID})
        problem = argv_problem(argv)
        if problem is not None:
            raise ValidationError({"runner_config": problem})

    def run(
        self,
        prompt: str,
        context: dict[str, Any],
        on_output: OutputCallback | None = None,
        control: RunControl | None = None,
    ) -> str:
        # Checked again here: the agent may have been saved before these rules existed.
        problem = argv_problem(self.config["argv"])
        if problem is not None:
            raise RunnerError(problem)
        argv = [prompt if arg == PROMPT_PLACEHOLDER else arg for arg in self.config["argv"]]
        run_vars = {"prompt": prompt, **{name: context.get(name, "") for name in ("agent_id", "execution_id")}}
        try:
            process = subprocess.Popen(
                argv,
                cwd=self.config.get("cwd") or None,
                env=child_environment(agent_env=self.config.get("env", {}), run_vars=run_vars),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise RunnerError(f"could not start {argv[0]!r}: {exc.strerror or exc}") from exc
        output = BoundedOutput(on_output=on_output)
        threading.Thread(target=_feed_stdin, args=(process.stdin, prompt), daemon=True).start()
        reader = threading.Thread(target=_drain, args=(process.stdout, output), daemon=True)
        reader.start()
        control = control or RunControl()
        timeout = self.timeout_for(control)
        returncode = _wait(process, timeout=timeout, control=control)
        if returncode is None:
            _kill_group(process)
            reader.join(timeout=2)
            if control.cancelled():
                raise RunCancelled(output=output.text())
            raise RunTimedOut(timeout, output=output.text())
        reader.join()
        if returncode != 0:
            raise RunnerError(f"exited with status {returncode}", output=output.text())
        return output.text()


def _wait(process: subprocess.Popen, *, timeout: float, control: RunControl) -> int | None:
    """The exit status, or None when the run must be stopped first (timed out, or cancelled)."""
    deadline = time.monotonic() + timeout
    while not control.cancelled():
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return process.wait(timeout=min(left, STOP_POLL_S))
        except subprocess.TimeoutExpired:
            continue
    return None


def _feed_stdin(stdin: IO[bytes], prompt: str) -> None:
    """Write the prompt and close stdin (from a thread: a child that never reads must not block the run)."""
    try:
        stdin.write(prompt.encode("utf-8", "replace"))
    except (BrokenPipeError, ValueError):
        pass  # the child exited or closed stdin without reading it: its business
    finally:
        try:
            stdin.close()
        except BrokenPipeError:
            pass


def _drain(stdout: IO[bytes], output: BoundedOutput) -> None:
    """Read the pipe in chunks until the child closes it, keeping what `output` allows.

    Past the limit the pipe is still read and the bytes dropped, rather than the child killed:
    a command that prints too much is not failed for it, and its own exit status decides the run.
    Universal newlines as in text mode: \\r\\n and \\r end a line.
    """
    decoder = io.IncrementalNewlineDecoder(codecs.getincrementaldecoder("utf-8")(errors="replace"), translate=True)
    while chunk := stdout.read1(READ_CHUNK_BYTES):
        if not output.full:
            output.feed(decoder.decode(chunk))
    if not output.full:
        output.feed(decoder.decode(b"", final=True))
        output.close()
    stdout.close()


def _kill_group(process: subprocess.Popen) -> None:
    # The command may have started children of its own; they share its new session's group.
    try:
        os.killpg(process.pid, 9)
    except ProcessLookupError:
        pass
    process.wait()
