"""One way to write a moment for clients (docs/http-api.md, "Times").

Every time the API, the events and the SSE `end` event carry reads `2026-11-25T17:30:00.123Z`:
ISO 8601, UTC, milliseconds, `Z` — the form JavaScript's `Date.prototype.toISOString()` writes,
and one that `Date.parse` and Python's `datetime.fromisoformat` both read.
"""

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """`moment` as ISO 8601 in UTC to the millisecond with `Z`; a naive one is taken as UTC (how Django stores it)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def iso_utc_or_none(moment: datetime | None) -> str | None:
    """`iso_utc`, passing None (a run not finished, a councilor paused) through."""
    return iso_utc(moment) if moment is not None else None
