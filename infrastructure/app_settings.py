"""HTTP API knobs, each overridable in Django settings as API_<NAME> (base settings read them from the environment)."""

from typing import Any

from django.conf import settings


def _setting(name: str, default: Any) -> Any:
    """Django's setting API_<name>, or `default` when it is unset or None (conductor/settings/base.py)."""
    value = getattr(settings, f"API_{name}", None)
    return default if value is None else value


class AppSettings:
    @property
    def EXECUTE_RATE_LIMIT(self) -> int:
        """How many `execute` requests one user may make per window (shared by every gateway process)."""
        return int(_setting("EXECUTE_RATE_LIMIT", 10))

    @property
    def EXECUTE_RATE_WINDOW_S(self) -> int:
        """The length of that fixed window, in seconds."""
        return int(_setting("EXECUTE_RATE_WINDOW_S", 60))

    @property
    def STREAM_MAXLEN(self) -> int:
        """Output lines kept per execution in its Redis Stream (older ones are trimmed)."""
        return int(_setting("STREAM_MAXLEN", 10_000))

    @property
    def STREAM_TTL_S(self) -> int:
        """How long an execution's Redis Stream lives after its last line (SSE resumes within it)."""
        return int(_setting("STREAM_TTL_S", 86_400))

    @property
    def STREAM_POLL_S(self) -> float:
        """How long an idle SSE stream waits for a line before it sends a keep-alive and checks the database."""
        return float(_setting("STREAM_POLL_S", 5.0))

    @property
    def STREAM_MAX_PER_USER(self) -> int:
        """Open SSE streams one user may hold over the whole deployment (0: no limit); the next gets 429."""
        return int(_setting("STREAM_MAX_PER_USER", 20))

    @property
    def REQUEST_RECEIVE_TIMEOUT_S(self) -> float:
        """How long daphne waits for a request's headers and body, from its first line (0: no limit)."""
        return float(_setting("REQUEST_RECEIVE_TIMEOUT_S", 30.0))

    @property
    def METRICS_PUBLIC(self) -> bool:
        """Serve /metrics without authentication (for a scraper on a private network)."""
        return bool(_setting("METRICS_PUBLIC", False))


app_settings = AppSettings()
