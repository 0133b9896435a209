"""Dashboard knobs, each overridable in Django settings as DASHBOARD_<NAME>."""

from typing import Any

from django.conf import settings


def _setting(name: str, default: Any) -> Any:
    """Django's setting DASHBOARD_<name>, or `default` when it is unset or None (conductor/settings/base.py)."""
    value = getattr(settings, f"DASHBOARD_{name}", None)
    return default if value is None else value


class AppSettings:
    @property
    def SOCKET_URL(self) -> str:
        """Where the page's socket connects: empty for this host's /ws/gamification, or a path or
        URL of a separate gateway (same site, so the session cookie goes with it; on another origin
        the gateway must list this page's origin in WS_ALLOWED_ORIGINS)."""
        return _setting("SOCKET_URL", "")

    @property
    def POLL_INTERVAL_S(self) -> float:
        """How often the page polls the metrics while its socket is down (docs/dashboard.md, "The live dashboard")."""
        return float(_setting("POLL_INTERVAL_S", 30.0))

    @property
    def TICKER_SIZE(self) -> int:
        """How many events the footer ticker keeps (newest first); older ones drop off."""
        return int(_setting("TICKER_SIZE", 30))

    @property
    def RUNS_PAGE_SIZE(self) -> int:
        """How many runs the agent page lists per page (docs/dashboard.md, "Agent page")."""
        return int(_setting("RUNS_PAGE_SIZE", 20))


app_settings = AppSettings()
