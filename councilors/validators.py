"""Validation rules shared by the models, the admin forms and the services.

Each rule raises ValidationError with one of the messages below, which the tests assert against.
"""

import re
from typing import Any

from croniter import croniter
from django.core.exceptions import ValidationError

from infrastructure.text import unstorable

INTERVAL_PATTERN = re.compile(r"^\d+[mhd]$")
INTERVAL_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
PROMPT_MAX_LENGTH = 10_000
NOTIFICATION_CHANNELS = ("panel", "toast", "email")

INTERVAL_INVALID = "Interval must be a whole number followed by m, h or d (e.g. 30m, 1h, 2d); got %(value)r."
INTERVAL_ZERO = "Interval must be greater than zero; got %(value)r."
# django-q2 keeps an interval schedule's minutes in a small integer column.
INTERVAL_MAX_MINUTES = 32767
INTERVAL_TOO_LONG = "Interval must be at most 32767 minutes (22 days 18 hours); got %(value)r."
CRON_INVALID = "Cron expression %(value)r is not valid: %(reason)s."
CRON_FIELDS = "Cron expression must have exactly 5 fields (minute hour day month weekday); got %(count)d."
COLOR_INVALID = "Colour must be #rrggbb (six hex digits); got %(value)r."
PROMPT_EMPTY = "The task prompt must not be empty."
PROMPT_TOO_LONG = "The task prompt must be at most %(limit)d characters; it has %(length)d."
PROMPT_NUL = "The task prompt must not contain NUL characters (\\x00)."
PROMPT_UNSTORABLE = (
    "The task prompt must be valid Unicode text: it contains a lone surrogate (U+D800 to U+DFFF), "
    "which cannot be stored."
)
TEXT_UNSTORABLE = (
    "This must be valid Unicode text without NUL characters (\\x00) or lone surrogates (U+D800 to U+DFFF), "
    "which cannot be stored."
)
CHANNELS_EMPTY = "Choose at least one notification channel (panel, toast, email)."
CHANNELS_UNKNOWN = "Unknown notification channel(s) %(unknown)s; choose from panel, toast, email."
CHANNELS_NOT_LIST = 'Notification channels must be a list such as ["panel", "toast"].'
CONTEXT_FILES_INVALID = "Context files must be a list of non-empty path strings."


def validate_interval(value: str) -> None:
    if not isinstance(value, str) or not INTERVAL_PATTERN.match(value):
        raise ValidationError(INTERVAL_INVALID, code="interval", params={"value": value})
    if int(value[:-1]) == 0:
        raise ValidationError(INTERVAL_ZERO, code="interval_zero", params={"value": value})
    if interval_seconds(value) // 60 > INTERVAL_MAX_MINUTES:
        raise ValidationError(INTERVAL_TOO_LONG, code="interval_too_long", params={"value": value})


def validate_cron(value: str) -> None:
    fields = str(value).split()
    if len(fields) != 5:
        raise ValidationError(CRON_FIELDS, code="cron_fields", params={"count": len(fields)})
    try:
        croniter(value)
    except (ValueError, KeyError) as exc:
        raise ValidationError(CRON_INVALID, code="cron", params={"value": value, "reason": exc}) from exc


def validate_color(value: str) -> None:
    if not COLOR_PATTERN.match(value or ""):
        raise ValidationError(COLOR_INVALID, code="color", params={"value": value})


def validate_prompt(value: str) -> None:
    if not value or not value.strip():
        raise ValidationError(PROMPT_EMPTY, code="prompt_empty")
    if len(value) > PROMPT_MAX_LENGTH:
        raise ValidationError(
            PROMPT_TOO_LONG, code="prompt_too_long", params={"limit": PROMPT_MAX_LENGTH, "length": len(value)}
        )
    if "\x00" in value:  # PostgreSQL cannot store it: refused here rather than crashing the run that saves it
        raise ValidationError(PROMPT_NUL, code="prompt_nul")
    if unstorable(value):  # no database stores a lone surrogate (a JSON "\ud800" escape makes one)
        raise ValidationError(PROMPT_UNSTORABLE, code="prompt_unstorable")


def validate_notification_channels(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(CHANNELS_NOT_LIST, code="channels_type")
    if not value:
        raise ValidationError(CHANNELS_EMPTY, code="channels_empty")
    unknown = sorted(set(value) - set(NOTIFICATION_CHANNELS))
    if unknown:
        raise ValidationError(CHANNELS_UNKNOWN, code="channels_unknown", params={"unknown": ", ".join(unknown)})


def validate_context_files(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValidationError(CONTEXT_FILES_INVALID, code="context_files")


def interval_seconds(value: str) -> int:
    """Seconds in an interval such as `30m`, `1h` or `2d` (already validated): the one interval parser."""
    return int(value[:-1]) * INTERVAL_UNIT_SECONDS[value[-1]]
