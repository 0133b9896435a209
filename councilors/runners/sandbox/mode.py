"""Which sandbox runs use (COUNCILORS_SANDBOX), whether bubblewrap works here, and what a worker says about it."""

import functools
import logging
import shutil
import subprocess
from dataclasses import dataclass

from councilors.app_settings import app_settings
from councilors.runners.base import RunnerError
from councilors.runners.sandbox import bwrap

logger = logging.getLogger(__name__)

BWRAP, NONE = "bwrap", "none"
SANDBOXES = (BWRAP, NONE)
PROBE_TIMEOUT_S = 10.0
INSTALL_HINT = "apt-get install bubblewrap"

SANDBOX_INVALID = "COUNCILORS_SANDBOX must be %(choices)s; got %(value)r."
SANDBOX_UNAVAILABLE = (
    "COUNCILORS_SANDBOX is bwrap but bubblewrap cannot run here (%(reason)s), and command runs never run "
    "unsandboxed by surprise: install it (" + INSTALL_HINT + "), or set COUNCILORS_SANDBOX=none to run "
    "commands with the worker's rights."
)
WORKER_UNSANDBOXED = (
    "command runs are NOT sandboxed (COUNCILORS_SANDBOX=none%(why)s): they run with this worker's rights and can "
    "read its files and processes; see docs/security.md"
)
WORKER_SANDBOXED = "command runs execute in a bubblewrap sandbox"
# Why bubblewrap cannot run, when it is not bwrap's own message (which is shown as bwrap printed it).
BWRAP_MISSING = "bwrap is not installed"
BWRAP_FAILED = "bwrap exited with status %(status)d"


class SandboxUnavailable(RunnerError):
    """The configured sandbox cannot run here: the run fails rather than running unsandboxed."""


@dataclass(frozen=True)
class Probe:
    """Whether bubblewrap works on this machine, and if not, why."""

    works: bool
    reason: str = ""
    missing: bool = False


@functools.cache
def bwrap_probe() -> Probe:
    """Whether a trivial sandboxed `true` succeeds here; asked once per process."""
    program = shutil.which("bwrap")
    if program is None:
        return Probe(works=False, reason=BWRAP_MISSING, missing=True)
    try:
        true = shutil.which("true") or "/bin/true"
        argv = [program, *bwrap.namespace_options(network=False), *bwrap.system_binds(), "--", *bwrap.user_drop(), true]
        result = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, RunnerError) as exc:
        return Probe(works=False, reason=str(exc))
    if result.returncode != 0:
        said = result.stderr.decode("utf-8", "replace").strip().splitlines()
        return Probe(works=False, reason=said[-1] if said else BWRAP_FAILED % {"status": result.returncode})
    return Probe(works=True)


def default_sandbox() -> str:
    """COUNCILORS_SANDBOX when unset: bwrap wherever it works, else none."""
    return BWRAP if bwrap_probe().works else NONE


def chosen_sandbox() -> str:
    """COUNCILORS_SANDBOX as set, or its default when unset (not checked: see sandbox_mode)."""
    return app_settings.SANDBOX or default_sandbox()


def sandbox_mode() -> str:
    """The sandbox runs use now; SandboxUnavailable when the setting is invalid or bwrap is asked for and broken."""
    mode = chosen_sandbox()
    if mode not in SANDBOXES:
        raise SandboxUnavailable(SANDBOX_INVALID % {"choices": " or ".join(SANDBOXES), "value": mode})
    if mode == BWRAP and not bwrap_probe().works:
        raise SandboxUnavailable(SANDBOX_UNAVAILABLE % {"reason": bwrap_probe().reason})
    return mode


def worker_sandbox_line() -> tuple[int, str]:
    """The one line a worker logs at start-up about where command runs execute: (level, message)."""
    try:
        mode = sandbox_mode()
    except SandboxUnavailable as exc:
        return logging.ERROR, f"command runs will fail: {exc.reason}"
    if mode == BWRAP:
        return logging.INFO, WORKER_SANDBOXED
    why = "" if app_settings.SANDBOX else f": bubblewrap cannot run here, {bwrap_probe().reason}"
    return logging.WARNING, WORKER_UNSANDBOXED % {"why": why}


def log_worker_sandbox() -> None:
    """Log, once at a worker's start-up, whether command runs are sandboxed (they share its rights if not)."""
    level, message = worker_sandbox_line()
    logger.log(level, message)
