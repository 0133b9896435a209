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

from councilors.runners.sandbox.bwrap import NOBODY_UID, RUN_UID, worker_is_root
from councilors.runners.sandbox.mode import (
    BWRAP,
    INSTALL_HINT,
    NONE,
    SANDBOX_INVALID,
    SANDBOX_UNAVAILABLE,
    SANDBOXES,
    WORKER_SANDBOXED,
    WORKER_UNSANDBOXED,
    Probe,
    SandboxUnavailable,
    bwrap_probe,
    chosen_sandbox,
    default_sandbox,
    log_worker_sandbox,
    sandbox_mode,
    worker_sandbox_line,
)
from councilors.runners.sandbox.paths import PATH_HIDDEN, PATH_NOT_ABSOLUTE, path_problem
from councilors.runners.sandbox.run import SCRATCH_PREFIX, PreparedRun, prepared_run, remove_orphaned_scratch


def worker_startup() -> None:
    """What a worker does about command runs as it starts: say where they execute, clear dead workers' scratch."""
    log_worker_sandbox()
    remove_orphaned_scratch()


__all__ = [
    "BWRAP",
    "INSTALL_HINT",
    "NOBODY_UID",
    "NONE",
    "PATH_HIDDEN",
    "PATH_NOT_ABSOLUTE",
    "RUN_UID",
    "SANDBOXES",
    "SANDBOX_INVALID",
    "SANDBOX_UNAVAILABLE",
    "SCRATCH_PREFIX",
    "WORKER_SANDBOXED",
    "WORKER_UNSANDBOXED",
    "PreparedRun",
    "Probe",
    "SandboxUnavailable",
    "bwrap_probe",
    "chosen_sandbox",
    "default_sandbox",
    "log_worker_sandbox",
    "path_problem",
    "prepared_run",
    "remove_orphaned_scratch",
    "sandbox_mode",
    "worker_is_root",
    "worker_sandbox_line",
    "worker_startup",
]
