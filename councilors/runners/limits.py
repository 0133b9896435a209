"""Resource limits of a `command` run: CPU time, memory, processes and file size.

Defaults are the COUNCILORS_LIMIT_* settings; an agent may set its own in `runner_config["limits"]`
(`{"cpu_seconds": 60, "memory_mb": 512, "processes": 64, "file_size_mb": 64}`). They are kernel
rlimits set by util-linux's `prlimit`, which sets them and then execs the program: no extra process,
and no `preexec_fn` (unsafe in a threaded worker).

What each one bounds (the kernel's rules, not ours):
- cpu_seconds (RLIMIT_CPU) and memory_mb (RLIMIT_AS, address space) bound each process of the run;
- file_size_mb (RLIMIT_FSIZE) bounds each file a process writes;
- processes (RLIMIT_NPROC) counts the processes and threads of one user in one user namespace. In
  the sandbox each run has a user namespace of its own, so the count is the run's. Without the
  sandbox it would count every process of the worker's user (the worker's own threads included),
  so it is not applied there.

Which limit a failed run hit is read from the signal the kernel sends (SIGXCPU, SIGXFSZ) or, when a
limit makes a call fail instead (no memory, no new process, file too large) and the program dies of
it, from the error it printed last: programs report those failures with the system's own words.
"""

import resource
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_noop

from councilors.app_settings import app_settings

LIMITS_KEY = "limits"
MEBIBYTE = 1 << 20
# How much of a failed run's output is searched for the words of the failure a limit causes.
ERROR_TAIL_CHARS = 4096

# Settings errors, in the admin's language when raised; a limit's `hit` is a run error, recorded in
# English (councilors/run_errors.py words it).
LIMITS_NOT_OBJECT = gettext_noop(
    'limits must be an object, e.g. {"cpu_seconds": 60, "memory_mb": 512, "processes": 64}.'
)
LIMIT_UNKNOWN = gettext_noop("limits: %(name)r is not a limit; the limits are %(known)s.")
LIMIT_INVALID = gettext_noop("limits: %(name)s must be a whole number from 1 to %(maximum)d; got %(value)r.")


@dataclass(frozen=True)
class Limit:
    """One resource limit: its key in `limits`, its rlimit, and how a run that hit it is told apart."""

    name: str
    rlimit: int
    prlimit_option: str
    bytes_per_unit: int
    maximum: int
    hit: str
    signals: tuple[int, ...] = ()
    # Lower-case words programs print when the limit made a call fail (strerror texts, runtimes' own).
    words: tuple[str, ...] = ()


CPU = Limit(
    "cpu_seconds",
    resource.RLIMIT_CPU,
    "--cpu",
    1,
    7 * 86_400,
    "exceeded its CPU time limit (%(value)d s)",
    signals=(signal.SIGXCPU,),
)
MEMORY = Limit(
    "memory_mb",
    resource.RLIMIT_AS,
    "--as",
    MEBIBYTE,
    1 << 20,
    "hit its memory limit (%(value)d MB)",
    words=(
        "memoryerror",
        "cannot allocate memory",
        "out of memory",
        "bad_alloc",
        "failed to reserve virtual memory",
        "memory exhausted",
    ),
)
PROCESSES = Limit(
    "processes",
    resource.RLIMIT_NPROC,
    "--nproc",
    1,
    1 << 20,
    "hit its process limit (%(value)d processes)",
    words=("resource temporarily unavailable", "can't start new thread", "cannot fork", "fork failed"),
)
FILE_SIZE = Limit(
    "file_size_mb",
    resource.RLIMIT_FSIZE,
    "--fsize",
    MEBIBYTE,
    1 << 30,
    "hit its file size limit (%(value)d MB)",
    signals=(signal.SIGXFSZ,),
    words=("file too large", "file size limit exceeded"),
)
LIMITS = (CPU, MEMORY, PROCESSES, FILE_SIZE)
BY_NAME = {limit.name: limit for limit in LIMITS}


def default_limits() -> dict[str, int]:
    """The limits of a run whose agent sets none (COUNCILORS_LIMIT_*)."""
    return {
        CPU.name: app_settings.LIMIT_CPU_SECONDS,
        MEMORY.name: app_settings.LIMIT_MEMORY_MB,
        PROCESSES.name: app_settings.LIMIT_PROCESSES,
        FILE_SIZE.name: app_settings.LIMIT_FILE_SIZE_MB,
    }


def validate_limits(value: Any) -> None:
    """Raise ValidationError naming what is wrong with an agent's `limits` (absent is fine)."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValidationError({"runner_config": gettext(LIMITS_NOT_OBJECT)})
    for name, number in value.items():
        if name not in BY_NAME:
            known = ", ".join(limit.name for limit in LIMITS)
            raise ValidationError({"runner_config": gettext(LIMIT_UNKNOWN) % {"name": name, "known": known}})
        maximum = BY_NAME[name].maximum
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= maximum:
            message = gettext(LIMIT_INVALID) % {"name": name, "maximum": maximum, "value": number}
            raise ValidationError({"runner_config": message})


def run_limits(config: Mapping[str, Any], *, own_user_namespace: bool) -> dict[str, int]:
    """The limits applied to one run: the defaults overridden by the agent's own (a default of 0: none).

    The processes limit only when the run has a user namespace of its own (see above).
    """
    limits = {**default_limits(), **(config.get(LIMITS_KEY) or {})}
    if not own_user_namespace:
        limits.pop(PROCESSES.name)
    return {name: int(value) for name, value in limits.items() if value}


def prlimit_options(limits: Mapping[str, int]) -> list[str]:
    """prlimit's options that set `limits`."""
    options = []
    for limit in LIMITS:
        if limit.name not in limits:
            continue
        soft = limits[limit.name] * limit.bytes_per_unit
        # The hard CPU limit a second later: SIGXCPU first (named, and catchable), then SIGKILL.
        hard = soft + 1 if limit is CPU else soft
        options.append(f"{limit.prlimit_option}={_within_hard(limit, soft)}:{_within_hard(limit, hard)}")
    return options


def _within_hard(limit: Limit, value: int) -> int:
    # Nobody may raise a hard limit without privileges: the worker's own is the most a run can get.
    _soft, hard = resource.getrlimit(limit.rlimit)
    return value if hard == resource.RLIM_INFINITY else min(value, hard)


def signal_of(status: int) -> int | None:
    """The signal that ended a process with this status (negative from Popen, 128 + n from a shell or bwrap)."""
    if status < 0:
        return -status
    if 128 < status <= 128 + signal.SIGRTMAX:
        return status - 128
    return None


def limit_hit(status: int, output: str, limits: Mapping[str, int]) -> tuple[Limit, str] | None:
    """The limit a run that ended with `status` hit, with the words that say so; None when none is evident."""
    applied = [limit for limit in LIMITS if limit.name in limits]
    killed_by = signal_of(status)
    tail = output[-ERROR_TAIL_CHARS:].lower()
    for limit in applied:
        if killed_by in limit.signals:
            return limit, limit.hit % {"value": limits[limit.name]}
    for limit in applied:
        if any(word in tail for word in limit.words):
            return limit, limit.hit % {"value": limits[limit.name]}
    return None
