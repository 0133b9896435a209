"""Gamification knobs, each overridable in Django settings as GAMIFICATION_<NAME>.

README's "Configuration" lists them; the docstrings here are the reference.
"""

from typing import Any

from django.conf import settings


def _setting(name: str, default: Any) -> Any:
    """Django's setting GAMIFICATION_<name>, or `default` when it is unset or None (conductor/settings/base.py)."""
    value = getattr(settings, f"GAMIFICATION_{name}", None)
    return default if value is None else value


class AppSettings:
    @property
    def GROUP(self) -> str:
        """The Channels group every event is sent to; each gateway process listens on it."""
        return _setting("GROUP", "gamification")

    @property
    def PUBLISH_TIMEOUT_S(self) -> float:
        """How long an emit may wait for Redis before it logs the failure and gives up."""
        return float(_setting("PUBLISH_TIMEOUT_S", 2.0))

    @property
    def HISTORY_ENABLED(self) -> bool:
        """Give broadcast events ids and keep them for `resume`; off: ids are null, nothing is kept.

        docs/protocol.md, "Event ids and resume".
        """
        return bool(_setting("HISTORY_ENABLED", True))

    @property
    def HISTORY_SIZE(self) -> int:
        """How many of the newest events the history keeps (older ones are trimmed as new ones arrive)."""
        return int(_setting("HISTORY_SIZE", 1000))

    @property
    def HISTORY_TTL_S(self) -> int:
        """How long the history outlives its newest event: kept events stay this long unless trimmed by size."""
        return int(_setting("HISTORY_TTL_S", 86_400))

    @property
    def HISTORY_TIMEOUT_S(self) -> float:
        """How long a history read (`resume`, `/api/events`, `last_id`) may wait for Redis before it fails."""
        return float(_setting("HISTORY_TIMEOUT_S", 5.0))

    @property
    def WS_MAX_MESSAGE_BYTES(self) -> int:
        """Largest command a client may send; bigger ones close the socket with 4009.

        Keep daphne's `--websocket-max-message-size` (1 MiB by default) at or above this: daphne
        refuses bigger messages itself (close 1009) before they reach the consumer.
        """
        return int(_setting("WS_MAX_MESSAGE_BYTES", 64 * 1024))

    @property
    def WS_RATE_LIMIT_PER_S(self) -> float:
        """Commands per second a connection may send on average (token bucket refill rate)."""
        return float(_setting("WS_RATE_LIMIT_PER_S", 10.0))

    @property
    def WS_RATE_LIMIT_BURST(self) -> int:
        """Commands a connection may send at once before the rate applies; beyond it → close 4029."""
        return int(_setting("WS_RATE_LIMIT_BURST", 30))

    @property
    def WS_OUTBOX_FRAMES(self) -> int:
        """Frames that may wait for one slow client; one more closes it with 4008 (memory stays bounded)."""
        return int(_setting("WS_OUTBOX_FRAMES", 1000))

    @property
    def WS_ALLOW_ANONYMOUS(self) -> bool:
        """Development only: let connections without a user in, read-only (no control commands)."""
        return bool(_setting("WS_ALLOW_ANONYMOUS", False))

    @property
    def WS_MAX_PER_USER(self) -> int:
        """Open sockets one user may have over the whole deployment; the next is closed with 4429 (0: no cap)."""
        return int(_setting("WS_MAX_PER_USER", 20))

    @property
    def ACCESS_TTL_S(self) -> float:
        """How old a gateway's knowledge of a user (active, staff, may control councilors) may get.

        Each gateway process caches it this long and re-reads the users with open sockets this often:
        a deactivated user's sockets close, and a revoked permission takes effect, within about this.
        """
        return float(_setting("ACCESS_TTL_S", 5.0))

    @property
    def STATS_HEARTBEAT_S(self) -> float:
        """How often each gateway process refreshes its connection counts in Redis."""
        return float(_setting("STATS_HEARTBEAT_S", 10.0))

    @property
    def STATS_TTL_S(self) -> int:
        """How long a process's counts outlive its last heartbeat: a dead process drops out after this."""
        return int(_setting("STATS_TTL_S", 45))


app_settings = AppSettings()
