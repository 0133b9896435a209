"""Server-Sent Events of one execution's output (`GET /api/v1/stream?execution_id=`).

An async generator, so daphne holds no thread per client: it reads the run's Redis Stream
(`councilors.output_stream`) with the process's shared client, waits for more with every other
stream of the process on one connection (`councilors.output_watch`), and yields `output` events
(id = line number) as the worker appends lines, then one `end` event. The database is the record: when the run is over,
any line the stream lacks (Redis was down, or trimmed) is sent from the stored output before
`end`, and an idle stream checks it every STREAM_POLL_S so a run whose end marker never came
(worker lost, Redis failed) still ends.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis
from asgiref.sync import sync_to_async
from django.db import close_old_connections

from councilors.models import Execution
from councilors.output_stream import StreamEntry, read_entries, split_lines, stream_key
from councilors.output_watch import output_watch
from councilors.selectors import execution_queued_agent
from infrastructure.app_settings import app_settings
from infrastructure.redis_access import redis_async
from infrastructure.timestamps import iso_utc_or_none

logger = logging.getLogger(__name__)

OUTPUT_EVENT = "output"
END_EVENT = "end"
RETRY_MS = 2000
KEEPALIVE = ": keepalive\n\n"
NEVER_STARTED = "The run left the queue without starting (see the worker's log)."
FINAL_FIELDS = ("status", "severity", "output", "error", "started_at", "completed_at", "duration_ms")
TIME_FIELDS = ("started_at", "completed_at")  # written as everywhere in the API (infrastructure.timestamps)


def sse_event(*, event: str, data: str, event_id: int | None = None) -> str:
    """One SSE message; `data` must hold no line break."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


def _final_state_sync(execution_id: str) -> dict[str, Any] | None:
    close_old_connections()
    try:
        row = Execution.objects.filter(execution_id=execution_id).values(*FINAL_FIELDS).first()
        if row is not None:
            return None if row["status"] in Execution.IN_FLIGHT else row
        if execution_queued_agent(execution_id=execution_id) is not None:
            return None
        never = {"status": "error", "severity": "error", "output": "", "error": NEVER_STARTED}
        return {**dict.fromkeys(FINAL_FIELDS), **never}
    finally:
        close_old_connections()


async def _final_state(execution_id: str) -> dict[str, Any] | None:
    """The finished record's fields, None while the run is queued or running; a stand-in if it never started.

    Not thread-sensitive: Django's async ORM would give each open stream a thread of its own for its
    whole life (one per request context); a pool thread borrowed per check holds nothing between checks.
    """
    return await sync_to_async(_final_state_sync, thread_sensitive=False)(execution_id)


def _closing_events(*, execution_id: str, final: dict[str, Any], sent: int) -> list[str]:
    """Lines of the stored output the client has not had yet, then `end`."""
    lines = split_lines(final["output"])
    events = [
        sse_event(event=OUTPUT_EVENT, data=line, event_id=number)
        for number, line in enumerate(lines, start=1)
        if number > sent
    ]
    end = {"execution_id": execution_id, **{name: final[name] for name in FINAL_FIELDS if name != "output"}}
    end.update({name: iso_utc_or_none(final[name]) for name in TIME_FIELDS})
    events.append(sse_event(event=END_EVENT, data=json.dumps(end), event_id=max(sent, len(lines)) + 1))
    return events


class _Follower:
    """Reads one execution's stream for one client, falling back to the database when Redis fails."""

    def __init__(self, *, execution_id: str) -> None:
        self.execution_id = execution_id
        self.redis_failed = False

    async def entries_after(self, sent: int) -> list[StreamEntry]:
        """New entries, waiting up to STREAM_POLL_S; none (after that wait) when Redis fails."""
        try:
            entries = await self._read(sent)
            if entries:
                return entries
            key = stream_key(self.execution_id)
            if not await output_watch().wait(key, after=sent, timeout=app_settings.STREAM_POLL_S):
                return []
            return await self._read(sent)
        except (redis.RedisError, OSError) as exc:
            if not self.redis_failed:  # once per stream: the database check below goes on regardless
                logger.warning("live output of %s unreadable (%r); following the database", self.execution_id, exc)
            self.redis_failed = True
            await asyncio.sleep(app_settings.STREAM_POLL_S)
            return []

    async def _read(self, sent: int) -> list[StreamEntry]:
        # Without blocking, on the shared client: waiting is the watch's, on its own connection.
        return await read_entries(redis_async(), execution_id=self.execution_id, after=sent, block_ms=None)


async def execution_output_events(
    *, execution_id: str, after: int = 0, on_close: Callable[[], Awaitable[None]] | None = None
) -> AsyncIterator[str]:
    """The SSE text of the run's output lines numbered above `after`, then its `end` event; then `on_close()`."""
    follower = _Follower(execution_id=execution_id)
    sent = after
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            entries = await follower.entries_after(sent)
            lines = [entry for entry in entries if entry.end is None and entry.sequence > sent]
            for entry in lines:
                yield sse_event(event=OUTPUT_EVENT, data=entry.line, event_id=entry.sequence)
            sent = lines[-1].sequence if lines else sent
            ended = any(entry.end is not None for entry in entries)
            if entries and not ended:
                continue
            final = await _final_state(execution_id)
            if final is not None:
                for event in _closing_events(execution_id=execution_id, final=final, sent=sent):
                    yield event
                return
            if ended:
                # The end marker is written after the record is saved; wait for that commit to be visible.
                await asyncio.sleep(0.2)
                continue
            yield KEEPALIVE
    finally:
        if on_close is not None:
            await on_close()
