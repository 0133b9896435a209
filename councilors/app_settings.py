"""Councilor knobs, each overridable in Django settings as COUNCILORS_<NAME>."""

from typing import Any

from django.conf import settings


def _setting(name: str, default: Any) -> Any:
    """Django's setting COUNCILORS_<name>, or `default` when it is unset or None (conductor/settings/base.py)."""
    value = getattr(settings, f"COUNCILORS_{name}", None)
    return default if value is None else value


class AppSettings:
    @property
    def FAILURE_ALERT_THRESHOLD(self) -> int:
        """A councilor failing this many runs in a row raises one critical `system_alert` per streak."""
        return int(_setting("FAILURE_ALERT_THRESHOLD", 3))

    @property
    def SCHEDULER_TICK_S(self) -> float:
        """How often each `run_cluster` runs django-q2's scheduler pass; 0 leaves only django-q2's own ~30 s pass."""
        return float(_setting("SCHEDULER_TICK_S", 0.5))

    @property
    def REAPER_INTERVAL_S(self) -> float:
        """How often each `run_cluster` looks for runs whose worker died."""
        return float(_setting("REAPER_INTERVAL_S", 5.0))

    @property
    def LOST_GRACE_S(self) -> float:
        """A run still `running` this long after the worker timeout (Q_CLUSTER timeout) is counted lost."""
        return float(_setting("LOST_GRACE_S", 60.0))

    @property
    def NOTIFY_EMAILS(self) -> list[str]:
        """Who gets councilor e-mail; empty means the addresses in ADMINS."""
        emails = list(_setting("NOTIFY_EMAILS", []))
        return emails or [email for _name, email in getattr(settings, "ADMINS", [])]

    @property
    def WORKER_ALERT_AFTER_S(self) -> float:
        """No worker-cluster heartbeat for this long raises a critical `system_alert` (once per outage)."""
        return float(_setting("WORKER_ALERT_AFTER_S", 60.0))

    @property
    def RETRY_BACKOFF_MAX_S(self) -> float:
        """The longest wait before a councilor's retry, however many attempts came before (docs/scheduling.md)."""
        return float(_setting("RETRY_BACKOFF_MAX_S", 3600.0))

    @property
    def MAX_CONCURRENT_RUNS(self) -> int:
        """Runs one worker cluster's workers run at once; more wait as `queued` without holding a worker. 0: no cap."""
        return int(_setting("MAX_CONCURRENT_RUNS", 0))

    @property
    def OUTPUT_MAX_BYTES(self) -> int:
        """Bytes of a run's output kept (database, live stream, API); the rest is dropped after one marker line."""
        return int(_setting("OUTPUT_MAX_BYTES", 1_048_576))

    @property
    def OUTPUT_MAX_LINE_BYTES(self) -> int:
        """Bytes kept of one output line; a longer line is cut and marked (no line is ever held whole)."""
        return int(_setting("OUTPUT_MAX_LINE_BYTES", 16_384))

    @property
    def PYTHON_RUNNER_MODULES(self) -> list[str]:
        """Modules (or packages, with their submodules) whose callables `python` agents may name."""
        return list(_setting("PYTHON_RUNNER_MODULES", ["councilors.demo"]))

    @property
    def HTTP_MAX_RESPONSE_BYTES(self) -> int:
        """Largest response body an `http` agent reads; a longer one fails the run."""
        return int(_setting("HTTP_MAX_RESPONSE_BYTES", 1_048_576))

    @property
    def SANDBOX(self) -> str:
        """Where command runs execute: `bwrap` (a bubblewrap sandbox) or `none` (as the worker, with its rights).

        Empty (unset): `bwrap` wherever bubblewrap works on this machine (councilors.runners.sandbox
        asks once per process), else `none`.
        """
        return str(_setting("SANDBOX", ""))

    @property
    def SANDBOX_READ_ONLY_PATHS(self) -> list[str]:
        """Host paths (absolute) that command runs see read-only besides the system's, e.g. ["/opt/tools"]."""
        return list(_setting("SANDBOX_READ_ONLY_PATHS", []))

    @property
    def LIMIT_CPU_SECONDS(self) -> int:
        """CPU seconds each process of a command run may use (SIGXCPU, then SIGKILL); 0: no limit."""
        return int(_setting("LIMIT_CPU_SECONDS", 300))

    @property
    def LIMIT_MEMORY_MB(self) -> int:
        """Address space of each process of a command run, in MiB (Node.js needs about 1,000); 0: no limit."""
        return int(_setting("LIMIT_MEMORY_MB", 2048))

    @property
    def LIMIT_PROCESSES(self) -> int:
        """Processes and threads a sandboxed command run may have at once (not applied without the sandbox)."""
        return int(_setting("LIMIT_PROCESSES", 128))

    @property
    def LIMIT_FILE_SIZE_MB(self) -> int:
        """Largest file a process of a command run may write, in MiB; 0: no limit."""
        return int(_setting("LIMIT_FILE_SIZE_MB", 512))

    @property
    def KEEP_RUNS_DAYS(self) -> int:
        """Runs older than this many days are pruned daily (beyond each agent's newest KEEP_RUNS_MIN)."""
        return _setting("KEEP_RUNS_DAYS", 90)

    @property
    def KEEP_RUNS_MIN(self) -> int:
        """The newest runs of each agent always kept, however old (at least 1: run numbers are never reused)."""
        return _setting("KEEP_RUNS_MIN", 100)


app_settings = AppSettings()
