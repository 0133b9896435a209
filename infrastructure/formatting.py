"""How people read a duration or a moment on the server: the admin, the pages' first rendering, the commands.

One rule for durations, shared with the browser (`formatDuration` in static/js/gamification/format.js,
which uses Intl for the number): milliseconds below 0.1 s, one decimal below 10 s, whole seconds
below a minute, then minutes and seconds, then hours and minutes. The number is written the way
the active language writes numbers (Django's formats: `2.1s` in English, `2,1 s` in Portuguese);
the unit comes from the translation catalogue. Moments use Django's localized date formats, in the
current time zone.
"""

import math
from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import pgettext

NOTHING = "—"
# Below a tenth of a second one decimal would read "0s" for a 23 ms run: milliseconds instead.
MILLISECONDS_BELOW_MS = 100
# 9.95 s and up round to whole seconds (10s, 11s...), below to one decimal.
WHOLE_SECONDS_FROM_MS = 9950
MINUTE_S = 60
HOUR_S = 3600


def _half_up(value: float) -> int:
    # JavaScript's Math.round rounds halves up; Python's round() rounds them to even.
    return math.floor(value + 0.5)


def _number(value: float) -> str:
    """`value` with at most one decimal, written as the active language writes numbers (no grouping)."""
    if value == int(value):
        return str(int(value))
    return formats.number_format(value, decimal_pos=1, use_l10n=True, force_grouping=False)


def duration_text(duration_ms: float | None) -> str:
    """ "23ms", "0.3s", "2.1s", "15s", "2m 5s", "1h 4m" (in Portuguese "2,1 s", "2 min 5 s"); "—" when unknown."""
    if not isinstance(duration_ms, int | float) or isinstance(duration_ms, bool) or duration_ms < 0:
        return NOTHING
    if _half_up(duration_ms) < MILLISECONDS_BELOW_MS:
        return pgettext("duration", "%(value)sms") % {"value": _half_up(duration_ms)}
    if duration_ms < WHOLE_SECONDS_FROM_MS:
        return pgettext("duration", "%(value)ss") % {"value": _number(_half_up(duration_ms / 100) / 10)}
    seconds = _half_up(duration_ms / 1000)
    if seconds < MINUTE_S:
        return pgettext("duration", "%(value)ss") % {"value": seconds}
    if seconds < HOUR_S:
        return pgettext("duration", "%(minutes)sm %(seconds)ss") % {
            "minutes": seconds // MINUTE_S,
            "seconds": seconds % MINUTE_S,
        }
    minutes = _half_up(seconds / MINUTE_S)
    return pgettext("duration", "%(hours)sh %(minutes)sm") % {"hours": minutes // 60, "minutes": minutes % 60}


def moment_text(moment: datetime | None, *, short: bool = False) -> str:
    """A moment in the current time zone, as the active language writes it (Django's DATETIME_FORMAT,
    or SHORT_DATETIME_FORMAT for lists); "—" for none."""
    if moment is None:
        return NOTHING
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return formats.date_format(local, "SHORT_DATETIME_FORMAT" if short else "DATETIME_FORMAT")
