"""Where a `command` run executes: in a bubblewrap sandbox (COUNCILORS_SANDBOX=bwrap) or as the worker (`none`).

A run is a stranger on the worker's machine: whoever may run an agent chooses its prompt, and a
program that treats its prompt as a path, a URL or code would otherwise hand out every file and
secret of the worker. bubblewrap (`bwrap`, Debian's `bubblewrap`; no root needed) gives each run:

- namespaces of its own for processes, IPC, host name and cgroups: no other process is visible (no
  /proc/<pid>/environ of the worker), and killing the sandbox's first process ends every process of
  the run; `--die-with-parent` does the same when the worker dies;
- read-only system directories (/usr, /bin, /lib*, the /etc files programs need, a passwd and group
  of two lines), the worker's Python installation read-only (its virtualenv and base prefix:
  installed packages, so that agents may run the worker's interpreter), the paths of
  COUNCILORS_SANDBOX_READ_ONLY_PATHS, its own /proc, /dev and /tmp (tmpfs), and a scratch directory
  made for the run (its HOME and working directory, writable, removed afterwards);
- none of: the project directory, var/ (database, key, logs), other homes, the worker's environment
  (environment.py allowlists what a run gets);
- a user of its own (`run`, uid 1000) in a user namespace of its own, which also makes the processes
  limit count this run alone. The kernel never applies that limit to uid 0, so a worker running as
  root starts the sandbox as root (which may bind what it can read), and the run drops to the
  host's nobody (`setpriv`) and enters a user namespace of its own (`unshare`): each execs the
  next, no process is added. Files the run does not own show as nobody's;
- the network, unless the agent's runner_config says "network": false (then a loopback of its own).

The agent's `cwd` is bound read-only, at its own path, as the run's working directory: it is the
admin's directory (a checkout, a data folder), and a prompt steering a program must not change what
later runs or the host rely on; what a run writes goes to its scratch directory.
"""

import functools
import glob
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from councilors.app_settings import app_settings
from councilors.runners.base import RunnerError
from councilors.runners.limits import prlimit_options, run_limits

logger = logging.getLogger(__name__)

BWRAP, NONE = "bwrap", "none"
SANDBOXES = (BWRAP, NONE)
# The run's user inside the sandbox; on the host it is the worker's user, or nobody for a root worker.
RUN_UID = RUN_GID = 1000
NOBODY_UID = NOBODY_GID = 65534
SCRATCH_PREFIX = "conductor-run-"
ROOT_CAPABILITIES = ("CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID")
PROBE_TIMEOUT_S = 10.0
INSTALL_HINT = "apt-get install bubblewrap"

SANDBOX_INVALID = "COUNCILORS_SANDBOX must be %(choices)s; got %(value)r."
SANDBOX_UNAVAILABLE = (
    "COUNCILORS_SANDBOX is bwrap but bubblewrap cannot run here (%(reason)s), and command runs never run "
    "unsandboxed by surprise: install it (" + INSTALL_HINT + "), or set COUNCILORS_SANDBOX=none to run "
    "commands with the worker's rights."
)
TOOL_MISSING = "%(tool)s (util-linux) is not installed; command runs need it to apply their limits."
CWD_MISSING = "cwd %(cwd)r is not a directory on this worker."
PATH_HIDDEN = "%(what)s %(path)r would show command runs %(hidden)s, which the sandbox hides."
PATH_NOT_ABSOLUTE = "%(what)s %(path)r must be an absolute path."
WORKER_UNSANDBOXED = (
    "command runs are NOT sandboxed (COUNCILORS_SANDBOX=none%(why)s): they run with this worker's rights and can "
    "read its files and processes; see docs/security.md"
)
WORKER_SANDBOXED = "command runs execute in a bubblewrap sandbox"

# Merged-/usr systems make these symlinks into /usr; older ones have directories.
SYSTEM_TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# What of /etc programs need at run time: name resolution, certificates (not /etc/ssl/private), the
# time zone, the dynamic loader's cache, the alternatives' links (awk, editor, java…), Java's own
# settings where Java is installed. Each entry costs every run a mount: the list stays short.
ETC_ENTRIES = (
    "alternatives",
    "crypto-policies",
    "hosts",
    "java-*",
    "ld.so.cache",
    "localtime",
    "nsswitch.conf",
    "os-release",
    "pki/ca-trust",
    "pki/tls/certs",
    "protocols",
    "resolv.conf",
    "services",
    "ssl/certs",
    "ssl/openssl.cnf",
)


class SandboxUnavailable(RunnerError):
    """The configured sandbox cannot run here: the run fails rather than running unsandboxed."""


@dataclass(frozen=True)
class Probe:
    """Whether bubblewrap works on this machine, and if not, why."""

    works: bool
    reason: str = ""
    missing: bool = False


@dataclass(frozen=True)
class PreparedRun:
    """How to start one run: the argv to execute (bwrap or prlimit first), where, and what it may see."""

    argv: list[str]
    cwd: str
    home: str
    pass_fds: tuple[int, ...]
    limits: dict[str, int]
    sandboxed: bool


def worker_is_root() -> bool:
    return os.geteuid() == 0


def _tool(name: str) -> str:
    """The path of a util-linux tool every run uses (prlimit; setpriv and unshare for a root worker)."""
    path = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if path is None:
        raise RunnerError(TOOL_MISSING % {"tool": name})
    return path


@functools.cache
def bwrap_probe() -> Probe:
    """Whether a trivial sandboxed `true` succeeds here; asked once per process."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Probe(works=False, reason="bwrap is not installed", missing=True)
    try:
        true = shutil.which("true") or "/bin/true"
        argv = [bwrap, *_namespace_options(network=False), *_system_binds(), "--", *_user_drop(), true]
        result = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, RunnerError) as exc:
        return Probe(works=False, reason=str(exc))
    if result.returncode != 0:
        said = result.stderr.decode("utf-8", "replace").strip().splitlines()
        return Probe(works=False, reason=said[-1] if said else f"bwrap exited with status {result.returncode}")
    return Probe(works=True)


def default_sandbox() -> str:
    """COUNCILORS_SANDBOX when unset: bwrap wherever it works, else none."""
    return BWRAP if bwrap_probe().works else NONE


def sandbox_mode() -> str:
    """The sandbox runs use now; SandboxUnavailable when the setting is invalid or bwrap is asked for and broken."""
    mode = app_settings.SANDBOX
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
    why = "" if getattr(settings, "COUNCILORS_SANDBOX", "") else f": bubblewrap cannot run here, {bwrap_probe().reason}"
    return logging.WARNING, WORKER_UNSANDBOXED % {"why": why}


def log_worker_sandbox() -> None:
    """Log, once at a worker's start-up, whether command runs are sandboxed (they share its rights if not)."""
    level, message = worker_sandbox_line()
    logger.log(level, message)


# --- what a run may and may not see ------------------------------------------------------------------


def hidden_paths() -> dict[Path, str]:
    """Paths no run may see, with how to name them: the project, var/, every SQLite database file's folder."""
    hidden = {Path(settings.BASE_DIR).resolve(): "the project directory", Path(settings.VAR_DIR).resolve(): "var/"}
    for db in connections.settings.values():  # the live dicts: a test database's name is there
        if db["ENGINE"].endswith("sqlite3"):
            for name in (db.get("NAME"), (db.get("TEST") or {}).get("NAME")):
                if name and str(name) != ":memory:" and not str(name).startswith("file:"):
                    hidden.setdefault(Path(name).resolve().parent, "the database's folder")
    return hidden


def _overlap(path: Path, hidden: Path) -> bool:
    return path == hidden or hidden.is_relative_to(path) or path.is_relative_to(hidden)


def path_problem(path: str, *, what: str) -> str | None:
    """Why a run may not see `path` (the agent's cwd, a read-only path), or None."""
    if not os.path.isabs(path):
        return PATH_NOT_ABSOLUTE % {"what": what, "path": path}
    resolved = Path(path).resolve()
    hidden = hidden_paths()
    # Inside a hidden path: the innermost one names it (var/, not the project); holding some: the outermost.
    inside = [folder for folder in hidden if resolved.is_relative_to(folder)]
    holding = [folder for folder in hidden if folder.is_relative_to(resolved)]
    if inside or holding:
        folder = max(inside, key=lambda p: len(p.parts)) if inside else min(holding, key=lambda p: len(p.parts))
        return PATH_HIDDEN % {"what": what, "path": path, "hidden": hidden[folder]}
    return None


def _interpreter_prefixes() -> list[str]:
    """The worker's Python (virtualenv and base installation) outside /usr, unless it holds a hidden path.

    A virtualenv inside the project directory is fine: it holds installed packages, not the project's
    code, settings or data (only var/ and the database must never be inside it).
    """
    prefixes = []
    hidden = hidden_paths()
    project = Path(settings.BASE_DIR).resolve()
    for prefix in dict.fromkeys(Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)):
        if prefix.is_relative_to("/usr") or not prefix.is_dir():
            continue
        if any(_overlap(prefix, path) for path in hidden if path != project) or project.is_relative_to(prefix):
            logger.warning("command runs do not see the Python installation %s: it holds what they may not", prefix)
            continue
        prefixes.append(str(prefix))
    return prefixes


def _read_only_paths() -> list[str]:
    paths = []
    for path in app_settings.SANDBOX_READ_ONLY_PATHS:
        problem = path_problem(path, what="COUNCILORS_SANDBOX_READ_ONLY_PATHS entry")
        if problem is not None:
            raise RunnerError(problem)
        paths.append(path)
    return paths


# --- the bwrap command line --------------------------------------------------------------------------


def _namespace_options(*, network: bool) -> list[str]:
    options = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    options += ["--die-with-parent", "--new-session"]
    if not network:
        options.append("--unshare-net")
    if worker_is_root():
        # Only what bwrap needs to enter the scratch directory (nobody's) and setpriv to become nobody;
        # the kernel clears them all when setpriv leaves uid 0.
        options += ["--cap-drop", "ALL"]
        options += [arg for cap in ROOT_CAPABILITIES for arg in ("--cap-add", cap)]
    else:
        options += ["--unshare-user", "--uid", str(RUN_UID), "--gid", str(RUN_GID)]
    return options


def _user_drop() -> list[str]:
    """For a root worker: become the host's nobody, then enter a user namespace of the run's own."""
    if not worker_is_root():
        return []
    setpriv = [_tool("setpriv"), f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}", "--clear-groups", "--"]
    return [*setpriv, _tool("unshare"), "--user", f"--map-user={RUN_UID}", f"--map-group={RUN_GID}", "--"]


@functools.cache
def _system_binds() -> tuple[str, ...]:
    """The read-only system part of every sandbox, the same for every run of this process."""
    binds = ["--ro-bind", "/usr", "/usr"]
    for name in SYSTEM_TOP_LEVEL:
        binds += _mirror(f"/{name}")
    made = set()
    for pattern in ETC_ENTRIES:
        for path in sorted(glob.glob(f"/etc/{pattern}")):
            # bwrap would make the folders above it 0700 (root's): the run could not look inside.
            parents = [str(parent) for parent in reversed(Path(path).parents) if str(parent) not in ("/", *made)]
            binds += [arg for parent in parents for arg in ("--perms", "0755", "--dir", parent)]
            made.update(parents)
            binds += _mirror(path)
    binds += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    binds += ["--perms", "1777", "--tmpfs", "/dev/shm"]
    return tuple(binds)


def _mirror(path: str) -> list[str]:
    """A system path as the host has it: the same symlink, or the file or directory read-only."""
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    if os.path.exists(path):
        return ["--ro-bind", path, path]
    return []


def _bind(option: str, path: str) -> list[str]:
    """`option` for `path` at the same place, with its parents created traversable (bwrap makes them 0700)."""
    parents = [str(parent) for parent in reversed(Path(path).parents) if str(parent) != "/"]
    made = [arg for parent in parents for arg in ("--perms", "0755", "--dir", parent)]
    return [*made, option, path, path]


def _bwrap_argv(*, argv: list[str], config: Mapping[str, Any], scratch: str, identity_fds: tuple[int, int]) -> list:
    bwrap = shutil.which("bwrap") or "bwrap"
    cwd = config.get("cwd") or scratch
    command = [bwrap, *_namespace_options(network=config.get("network", True) is not False), *_system_binds()]
    passwd_fd, group_fd = identity_fds
    command += ["--perms", "0644", "--ro-bind-data", str(passwd_fd), "/etc/passwd"]
    command += ["--perms", "0644", "--ro-bind-data", str(group_fd), "/etc/group"]
    for path in [*_interpreter_prefixes(), *_read_only_paths()]:
        command += _bind("--ro-bind-try", path)
    command += _bind("--bind", scratch)
    if config.get("cwd"):
        command += _bind("--ro-bind", config["cwd"])
    return [*command, "--chdir", cwd, "--", *_user_drop(), *argv]


@contextmanager
def _identity_files(home: str) -> Iterator[tuple[int, int]]:
    """/etc/passwd and /etc/group of the sandbox, as pipes bwrap reads once.

    The run's user, and nobody: in the run's user namespace every file it does not own shows as nobody's.
    """
    contents = (
        f"run:x:{RUN_UID}:{RUN_GID}:Conductor run:{home}:/bin/sh\n"
        f"nobody:x:{NOBODY_UID}:{NOBODY_GID}:nobody:/nonexistent:/usr/sbin/nologin\n",
        f"run:x:{RUN_GID}:\nnogroup:x:{NOBODY_GID}:\n",
    )
    fds: list[int] = []
    try:
        for content in contents:
            read_end, write_end = os.pipe()
            fds.append(read_end)
            os.write(write_end, content.encode())  # far below a pipe's capacity: never blocks
            os.close(write_end)
        yield fds[0], fds[1]
    finally:
        for fd in fds:
            os.close(fd)


# --- one run -----------------------------------------------------------------------------------------


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
    prlimit = [_tool("prlimit"), *prlimit_options(limits), "--"]
    scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
    try:
        if not sandboxed:
            yield PreparedRun([*prlimit, *argv], cwd or scratch, scratch, (), limits, sandboxed=False)
            return
        if worker_is_root():
            os.chown(scratch, NOBODY_UID, NOBODY_GID)  # the run is nobody on the host
        with _identity_files(scratch) as fds:
            command = _bwrap_argv(argv=[*prlimit, *argv], config=config, scratch=scratch, identity_fds=fds)
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
