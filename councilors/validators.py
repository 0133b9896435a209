"""Validation rules shared by the models, the admin forms and the services.

Each rule raises ValidationError with one of the messages below, which the tests assert against.
The constants are the English text (gettext_noop marks them for the catalogue); each is translated
when it is raised, in the language of the request that is being validated.
"""

import re
from typing import Any

from croniter import CroniterError, croniter
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_noop

from infrastructure.text import unstorable

INTERVAL_PATTERN = re.compile(r"^\d+[mhd]$")
INTERVAL_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
PROMPT_MAX_LENGTH = 10_000
NOTIFICATION_CHANNELS = ("panel", "toast", "email")

INTERVAL_INVALID = gettext_noop(
    "Interval must be a whole number followed by m, h or d (e.g. 30m, 1h, 2d); got %(value)r."
)
INTERVAL_ZERO = gettext_noop("Interval must be greater than zero; got %(value)r.")
# django-q2 keeps an interval schedule's minutes in a small integer column.
INTERVAL_MAX_MINUTES = 32767
INTERVAL_TOO_LONG = gettext_noop("Interval must be at most 32767 minutes (22 days 18 hours); got %(value)r.")
CRON_FIELDS = gettext_noop("Cron expression must have exactly 5 fields (minute hour day month weekday); got %(count)d.")
# A bad cron expression names the field that is wrong and what it takes, not croniter's own wording.
CRON_FIELD_INVALID = gettext_noop("Cron expression %(value)r: the %(field)s field %(part)r is not valid (%(allowed)s).")
CRON_NEVER = gettext_noop("Cron expression %(value)r never comes due (no such date, e.g. 31 February).")
CRON_INVALID = gettext_noop(
    "Cron expression %(value)r is not valid: write minute hour day month weekday, e.g. 0 6 * * 1-5."
)
# The five fields of a cron expression, in order: the name shown and the values it takes.
CRON_FIELD_NAMES = (
    (gettext_noop("minute"), gettext_noop("0-59")),
    (gettext_noop("hour"), gettext_noop("0-23")),
    (gettext_noop("day of month"), gettext_noop("1-31")),
    (gettext_noop("month"), gettext_noop("1-12 or jan-dec")),
    (gettext_noop("day of week"), gettext_noop("0-6 or sun-sat, 0 and 7 being Sunday")),
)
COLOR_INVALID = gettext_noop("Colour must be #rrggbb (six hex digits); got %(value)r.")
PROMPT_EMPTY = gettext_noop("The prompt must not be empty: say what the agent should do.")
PROMPT_TOO_LONG = gettext_noop("The prompt must be at most %(limit)d characters; it has %(length)d.")
PROMPT_NUL = gettext_noop("The prompt must not contain NUL characters (\\x00).")
PROMPT_UNSTORABLE = gettext_noop(
    "The prompt must be valid Unicode text: it contains a lone surrogate (U+D800 to U+DFFF), which cannot be stored."
)
TEXT_UNSTORABLE = gettext_noop(
    "This must be valid Unicode text without NUL characters (\\x00) or lone surrogates (U+D800 to U+DFFF), "
    "which cannot be stored."
)
CHANNELS_EMPTY = gettext_noop("Choose at least one notification channel (panel, toast, email).")
CHANNELS_UNKNOWN = gettext_noop("Unknown notification channel(s) %(unknown)s; choose from panel, toast, email.")
CHANNELS_NOT_LIST = gettext_noop('Notification channels must be a list such as ["panel", "toast"].')
CONTEXT_FILES_INVALID = gettext_noop("Context files must be a list of non-empty path strings.")


def _refuse(message: str, code: str, **params: Any) -> ValidationError:
    """The ValidationError for `message` (one of the constants above) in the active language."""
    return ValidationError(gettext(message), code=code, params=params or None)


def validate_interval(value: str) -> None:
    if not isinstance(value, str) or not INTERVAL_PATTERN.match(value):
        raise _refuse(INTERVAL_INVALID, "interval", value=value)
    if int(value[:-1]) == 0:
        raise _refuse(INTERVAL_ZERO, "interval_zero", value=value)
    if interval_seconds(value) // 60 > INTERVAL_MAX_MINUTES:
        raise _refuse(INTERVAL_TOO_LONG, "interval_too_long", value=value)


def _cron_accepts(expression: str) -> bool:
    try:
        croniter(expression)
    except (CroniterError, ValueError, KeyError):
        return False
    return True


def validate_cron(value: str) -> None:
    fields = str(value).split()
    if len(fields) != 5:
        raise _refuse(CRON_FIELDS, "cron_fields", count=len(fields))
    if _cron_accepts(value):
        try:  # accepted, but does it ever come due? ("0 0 31 2 *" does not)
            croniter(value).get_next()
        except CroniterError:
            raise _refuse(CRON_NEVER, "cron_never", value=value) from None
        return
    # Each field alone, the others `*`: the first one refused is the one to name.
    for position, (name, allowed) in enumerate(CRON_FIELD_NAMES):
        alone = " ".join(part if index == position else "*" for index, part in enumerate(fields))
        if not _cron_accepts(alone):
            field = {"field": gettext(name), "allowed": gettext(allowed), "part": fields[position]}
            raise _refuse(CRON_FIELD_INVALID, "cron_field", value=value, **field)
    raise _refuse(CRON_INVALID, "cron", value=value)


def validate_color(value: str) -> None:
    if not COLOR_PATTERN.match(value or ""):
        raise _refuse(COLOR_INVALID, "color", value=value)


def validate_prompt(value: str) -> None:
    if not value or not value.strip():
        raise _refuse(PROMPT_EMPTY, "prompt_empty")
    if len(value) > PROMPT_MAX_LENGTH:
        raise _refuse(PROMPT_TOO_LONG, "prompt_too_long", limit=PROMPT_MAX_LENGTH, length=len(value))
    if "\x00" in value:  # PostgreSQL cannot store it: refused here rather than crashing the run that saves it
        raise _refuse(PROMPT_NUL, "prompt_nul")
    if unstorable(value):  # no database stores a lone surrogate (a JSON "\ud800" escape makes one)
        raise _refuse(PROMPT_UNSTORABLE, "prompt_unstorable")


def validate_notification_channels(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _refuse(CHANNELS_NOT_LIST, "channels_type")
    if not value:
        raise _refuse(CHANNELS_EMPTY, "channels_empty")
    unknown = sorted(set(value) - set(NOTIFICATION_CHANNELS))
    if unknown:
        raise _refuse(CHANNELS_UNKNOWN, "channels_unknown", unknown=", ".join(unknown))


def validate_context_files(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise _refuse(CONTEXT_FILES_INVALID, "context_files")


def interval_seconds(value: str) -> int:
    """Seconds in an interval such as `30m`, `1h` or `2d` (already validated): the one interval parser."""
    return int(value[:-1]) * INTERVAL_UNIT_SECONDS[value[-1]]
