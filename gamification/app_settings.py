"""Gamification knobs, each overridable in Django settings as GAMIFICATION_<NAME>."""

from django.conf import settings


def _setting(name: str, default):
    return getattr(settings, f"GAMIFICATION_{name}", default)


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
        """Give broadcast events ids and keep them for `resume` (SPEC §5); off: ids are null, nothing is kept."""
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


app_settings = AppSettings()
