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


app_settings = AppSettings()
