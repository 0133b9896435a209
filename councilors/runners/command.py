"""Runs an argv list (never through a shell), in the sandbox, within its limits, and returns what it printed, bounded.

The prompt goes to the command's stdin (written, then closed) and to $CONDUCTOR_PROMPT; `{prompt}`
in argv is replaced only where `argv_policy` allows it (a whole argument after `--`). The child
gets an allowlisted environment (`environment`), never the server's; `sandbox` decides what else
it sees (COUNCILORS_SANDBOX) and `limits` what it may use.
"""

import codecs
import io
import os
import select
import signal
import subprocess
import threading
import time
from typing import IO, Any

import psutil
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_noop

from councilors.runners.argv_policy import PROMPT_PLACEHOLDER, argv_problem
from councilors.runners.base import (
    OutputCallback,
    RunCancelled,
    RunControl,
    RunLimitExceeded,
    Runner,
    RunnerError,
    RunTimedOut,
    in_reader_language,
)
from councilors.runners.bounded import BoundedOutput
from councilors.runners.environment import ENV_SECRET_NAME, child_environment, env_secret_names
from councilors.runners.limits import limit_hit, signal_of, validate_limits
from councilors.runners.sandbox import PreparedRun, path_problem, prepared_run

# Settings errors, in the admin's language when raised (argv and cwd problems are run errors too:
# councilors/run_errors.py words them); the run errors below are recorded in English.
ARGV_INVALID = gettext_noop('argv must be a non-empty list of strings, e.g. ["python", "--version"].')
ENV_INVALID = gettext_noop("env must be an object of string names to string values.")
CWD_INVALID = gettext_noop("cwd must be a path string.")
NETWORK_INVALID = gettext_noop("network must be true or false (false: the run has no network).")
EXITED = "exited with status %(status)d"
KILLED = "was killed by %(signal)s"
COULD_NOT_START = "could not start %(program)r: %(reason)s"
LIMIT_EXCEEDED = "%(ended)s: %(hit)s"  # how the run ended (EXITED, KILLED), then the limit's own words
IN_THE_SANDBOX = (
    " (in the sandbox, which shows /usr, /bin, /lib*, the worker's Python, the agent's cwd and "
    "COUNCILORS_SANDBOX_READ_ONLY_PATHS)"
)
# What prlimit (util-linux) prints, with status 126 or 127, when it cannot exec the program.
PRLIMIT_EXEC_FAILED = "prlimit: failed to execute "
READ_CHUNK_BYTES = 65_536
# How often a running command looks at its stop request: a cancel takes effect within this.
STOP_POLL_S = 0.1
# How long a run stopped by its timeout or a cancel has to finish writing what it wrote before it died.
KILLED_OUTPUT_WAIT_S = 2.0


class CommandRunner(Runner):
    """stdout and stderr, merged and streamed line by line, are the output; non-zero exit fails."""

    name = "command"

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        super().validate_config(config)
        argv = config.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(arg, str) for arg in argv):
            raise ValidationError({"runner_config": gettext(ARGV_INVALID)})
        env = config.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ValidationError({"runner_config": gettext(ENV_INVALID)})
        if secrets := env_secret_names(env):
            raise ValidationError({"runner_config": gettext(ENV_SECRET_NAME) % {"names": ", ".join(secrets)}})
        cwd = config.get("cwd", "")
        if not isinstance(cwd, str):
            raise ValidationError({"runner_config": gettext(CWD_INVALID)})
        if cwd and (problem := path_problem(cwd, what="cwd")):
            raise ValidationError({"runner_config": in_reader_language(problem)})
        if not isinstance(config.get("network", True), bool):
            raise ValidationError({"runner_config": gettext(NETWORK_INVALID)})
        validate_limits(config.get("limits"))
        problem = argv_problem(argv)
        if problem is not None:
            raise ValidationError({"runner_config": in_reader_language(problem)})

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
        control = control or RunControl()
        output = BoundedOutput(on_output=on_output)
        with prepared_run(argv=argv, config=self.config) as prepared:
            returncode = self._run_prepared(prepared, prompt=prompt, context=context, output=output, control=control)
        if returncode != 0:
            raise _failure(returncode, output=output.text(), prepared=prepared, program=argv[0])
        return output.text()

    def _run_prepared(
        self, prepared: PreparedRun, *, prompt: str, context: dict[str, Any], output: BoundedOutput, control: RunControl
    ) -> int:
        """Start the prepared command, feed and drain it, and return its exit status once it and its tree are gone."""
        run_vars = {"prompt": prompt, **{name: context.get(name, "") for name in ("agent_id", "execution_id")}}
        env = child_environment(agent_env=self.config.get("env", {}), run_vars=run_vars, home=prepared.home)
        try:
            process = subprocess.Popen(
                prepared.argv,
                cwd=prepared.cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=prepared.pass_fds,
            )
        except OSError as exc:
            raise RunnerError(COULD_NOT_START % {"program": prepared.argv[0], "reason": exc.strerror or exc}) from exc
        _write_prompt(process.stdin, prompt)
        timeout = self.timeout_for(control)
        reader = _OutputReader(process.stdout, output)
        try:
            returncode = _communicate(process, reader, timeout=timeout, control=control)
            if returncode is None:
                _kill_tree(process)
                reader.read_until_closed(deadline=time.monotonic() + KILLED_OUTPUT_WAIT_S)
                if control.cancelled():
                    raise RunCancelled(output=output.text())
                raise RunTimedOut(timeout, output=output.text())
            return returncode
        finally:
            reader.close()


def _failure(returncode: int, *, output: str, prepared: PreparedRun, program: str) -> RunnerError:
    """The error of a run that ended with a non-zero status, naming the limit it hit if it hit one."""
    if returncode in (126, 127) and output.startswith(PRLIMIT_EXEC_FAILED):
        reason = output.splitlines()[0].rsplit(": ", 1)[-1]
        where = IN_THE_SANDBOX if prepared.sandboxed else ""
        return RunnerError(COULD_NOT_START % {"program": program, "reason": reason} + where)
    killed_by = signal_of(returncode) if returncode < 0 else None
    ended = KILLED % {"signal": signal.Signals(killed_by).name} if killed_by else EXITED % {"status": returncode}
    hit = limit_hit(returncode, output, prepared.limits)
    if hit is None:
        return RunnerError(ended, output=output)
    limit, said = hit
    return RunLimitExceeded(LIMIT_EXCEEDED % {"ended": ended, "hit": said}, limit=limit.name, output=output)


def _communicate(
    process: subprocess.Popen, reader: "_OutputReader", *, timeout: float, control: RunControl
) -> int | None:
    """Read the output as it comes until the process has exited and its output is closed: its exit
    status, or None when the run must be stopped first (timed out, or cancelled).

    Both are waited for in one `select`, in the run's own thread (a reader thread per run was a
    measurable part of a short run's cost): the process on a pidfd, which wakes as it exits
    (Popen.wait with a timeout polls, with sleeps growing to 50 ms: most of a short run's time), and
    the stop request looked at in between. Once the process has exited, what it left behind is
    killed (in the sandbox, its PID namespace already ended it); output still open after that (a
    process that left the run's group) is read while the run's time lasts, and then left.
    """
    deadline = time.monotonic() + timeout
    pidfd = os.pidfd_open(process.pid)
    returncode = None
    try:
        while reader.open or returncode is None:
            left = deadline - time.monotonic()
            if control.cancelled() or left <= 0:
                return returncode  # None while it runs; once it has exited, its status stands
            waiting = [fd for fd, wanted in ((pidfd, returncode is None), (reader.fd, reader.open)) if wanted]
            ready = select.select(waiting, [], [], min(left, STOP_POLL_S))[0]
            if reader.fd in ready:
                reader.read()
            if pidfd in ready:
                returncode = process.wait()
                _kill_group(process.pid)
    finally:
        os.close(pidfd)
    return returncode


def _write_prompt(stdin: IO[bytes], prompt: str) -> None:
    """Write the prompt to the child's stdin and close it: at once when the pipe takes it all (most
    prompts fit in a pipe's buffer), else the rest from a thread: a child that never reads must not
    block the run."""
    data = prompt.encode("utf-8", "replace")
    fd = stdin.fileno()
    os.set_blocking(fd, False)
    try:
        written = os.write(fd, data) if data else 0
    except BlockingIOError:
        written = 0
    except BrokenPipeError:
        written = len(data)  # the child exited or closed stdin without reading it: its business
    finally:
        os.set_blocking(fd, True)
    if written < len(data):
        threading.Thread(target=_feed_stdin, args=(stdin, data[written:]), daemon=True).start()
        return
    try:
        stdin.close()
    except BrokenPipeError:
        pass


def _feed_stdin(stdin: IO[bytes], data: bytes) -> None:
    """Write what is left of the prompt and close stdin (in a thread of its own, see `_write_prompt`)."""
    try:
        stdin.write(data)
    except (BrokenPipeError, ValueError):
        pass  # the child exited or closed stdin without reading it: its business
    finally:
        try:
            stdin.close()
        except BrokenPipeError:
            pass


class _OutputReader:
    """The pipe of the run's stdout and stderr, read in chunks until the child closes it, keeping what
    `output` allows.

    Past the limit the pipe is still read and the bytes dropped, rather than the child killed:
    a command that prints too much is not failed for it, and its own exit status decides the run.
    Universal newlines as in text mode: \\r\\n and \\r end a line.
    """

    def __init__(self, stdout: IO[bytes], output: BoundedOutput) -> None:
        self.stdout = stdout
        self.fd = stdout.fileno()
        self.output = output
        self.open = True
        self._decoder = io.IncrementalNewlineDecoder(
            codecs.getincrementaldecoder("utf-8")(errors="replace"), translate=True
        )

    def read(self) -> None:
        """Read what the pipe holds (call when `select` says it is ready: it does not wait)."""
        chunk = os.read(self.fd, READ_CHUNK_BYTES)
        if not chunk:
            self.open = False
            if not self.output.full:
                self.output.feed(self._decoder.decode(b"", final=True))
                self.output.close()
        elif not self.output.full:
            self.output.feed(self._decoder.decode(chunk))

    def read_until_closed(self, *, deadline: float) -> None:
        """Read what a killed run still wrote, until the pipe closes or `deadline` (time.monotonic())."""
        while self.open and (left := deadline - time.monotonic()) > 0:
            if select.select([self.fd], [], [], left)[0]:
                self.read()

    def close(self) -> None:
        self.stdout.close()


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill a run still going, with every process it started, and reap it.

    In the sandbox, killing bwrap ends its PID namespace and with it every process of the run.
    Without it, the run's processes are its descendants and its process group (a session of its
    own); one that left both (setsid, then its parent exited) is beyond reach: docs/security.md.
    """
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    _kill_group(process.pid)
    for child in descendants:
        try:
            child.kill()
        except psutil.Error:
            pass
    process.wait()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
