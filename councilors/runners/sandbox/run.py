"""One run's place: the argv that starts it (bwrap or prlimit first), its scratch directory, its limits."""

import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from councilors.runners.base import RunnerError
from councilors.runners.limits import prlimit_options, run_limits
from councilors.runners.sandbox import bwrap
from councilors.runners.sandbox.mode import BWRAP, sandbox_mode
from councilors.runners.sandbox.paths import path_problem

logger = logging.getLogger(__name__)

SCRATCH_PREFIX = "conductor-run-"
# A scratch directory is named after the worker process that made it (conductor-run-<pid>-<random>):
# one whose worker died with the run in flight is removed when a worker starts (remove_orphaned_scratch).
CWD_MISSING = "cwd %(cwd)r is not a directory on this worker."


@dataclass(frozen=True)
class PreparedRun:
    """How to start one run: the argv to execute (bwrap or prlimit first), where, and what it may see."""

    argv: list[str]
    cwd: str
    home: str
    pass_fds: tuple[int, ...]
    limits: dict[str, int]
    sandboxed: bool


@contextmanager
def prepared_run(*, argv: list[str], config: Mapping[str, Any]) -> Iterator[PreparedRun]:
    """How to start `argv` for an agent with `config`, with a scratch directory that is removed afterwards.

    Raises RunnerError (SandboxUnavailable) when the run cannot be placed as configured.
    """
    mode = sandbox_mode()
    cwd = config.get("cwd") or ""
    if cwd and (problem := path_problem(cwd, what="cwd")):
        raise RunnerError(problem)
    if cwd and not os.path.isdir(cwd):
        raise RunnerError(CWD_MISSING % {"cwd": cwd})
    sandboxed = mode == BWRAP
    limits = run_limits(config, own_user_namespace=sandboxed)
    prlimit = [bwrap.tool("prlimit"), *prlimit_options(limits), "--"]
    scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
    try:
        if not sandboxed:
            yield PreparedRun([*prlimit, *argv], cwd or scratch, scratch, (), limits, sandboxed=False)
            return
        if bwrap.worker_is_root():
            os.chown(scratch, bwrap.NOBODY_UID, bwrap.NOBODY_GID)  # the run is nobody on the host
        with bwrap.identity_files(scratch) as fds:
            command = bwrap.bwrap_argv(argv=[*prlimit, *argv], config=config, scratch=scratch, identity_fds=fds)
            yield PreparedRun(command, scratch, scratch, fds, limits, sandboxed=True)
    finally:
        remove_scratch(scratch)


def remove_scratch(path: str) -> None:
    """Remove a run's scratch directory, including what it made unreadable or unwritable to its owner."""

    def allow_and_retry(function, failed_path, _exc_info) -> None:
        parent = os.path.dirname(failed_path)
        os.chmod(parent, stat.S_IRWXU)
        if os.path.isdir(failed_path) and not os.path.islink(failed_path):
            os.chmod(failed_path, stat.S_IRWXU)
        function(failed_path)

    try:
        shutil.rmtree(path, onerror=allow_and_retry)
    except OSError:
        logger.warning("could not remove the scratch directory %s of a command run", path, exc_info=True)


def remove_orphaned_scratch() -> int:
    """Remove the scratch directories whose worker process is gone (it died with a run in flight); how many."""
    removed = 0
    for entry in os.scandir(tempfile.gettempdir()):
        pid = entry.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if entry.name.startswith(SCRATCH_PREFIX) and pid.isdigit() and not _alive(int(pid)) and entry.is_dir():
            remove_scratch(entry.path)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's: alive
    return True
