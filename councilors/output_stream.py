"""Live output of a run: one Redis Stream per execution, written where the run happens, read by SSE.

The worker that runs an agent appends each output line as entry `<n>-0` (n = 1, 2, … the line's
number), then an `end` entry; the gateway reads them with XREAD BLOCK from any process. The line
number doubles as the SSE event id, so `Last-Event-ID: n` resumes at line n + 1 with no repeat.
Streams are trimmed (MAXLEN) and expire (TTL). Redis failing never fails the run: the publisher
logs once and stops, and the reader falls back to the output kept in the database.
The lines arrive already bounded (`councilors.runners.bounded`: COUNCILORS_OUTPUT_MAX_BYTES in all,
then one marker line), so a stream never holds more than the stored output does.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio

from councilors.runners.base import OutputCallback
from infrastructure.app_settings import app_settings
from infrastructure.redis_access import key, redis_sync

logger = logging.getLogger(__name__)

LINE_FIELD = b"line"
# When the worker published the line (Unix milliseconds): the run page's per-line timestamps.
AT_FIELD = b"at"
END_FIELD = b"end"
READ_BATCH = 500


def stream_key(execution_id: str) -> str:
    return key("output", execution_id)


def split_lines(text: str) -> list[str]:
    """The lines of an output chunk, without their line ends (SSE data cannot carry them)."""
    return text.splitlines()


class OutputPublisher:
    """The `on_output` callback of one run: appends each line to the execution's stream.

    `forward` is another callback (the caller's) that receives every chunk unchanged.
    """

    def __init__(self, *, execution_id: str, forward: OutputCallback | None = None) -> None:
        self.execution_id = execution_id
        self.key = stream_key(execution_id)
        self.forward = forward
        self.sequence = 0
        self.broken = False
        # The command runner calls back from its reader thread, `end` comes from the run's thread.
        self._lock = threading.Lock()

    def __call__(self, chunk: str) -> None:
        if self.forward is not None:
            self.forward(chunk)
        with self._lock:
            entries = []
            at = str(int(time.time() * 1000)).encode()
            for line in split_lines(chunk):
                self.sequence += 1
                entries.append((self.sequence, {LINE_FIELD: line.encode("utf-8", "replace"), AT_FIELD: at}))
            self._append(entries)

    def end(self, *, status: str, severity: str) -> None:
        """Append the end marker that tells readers the run is over."""
        with self._lock:
            payload = json.dumps({"status": status, "severity": severity}).encode()
            self._append([(self.sequence + 1, {END_FIELD: payload})])

    def _append(self, entries: list[tuple[int, dict[bytes, bytes]]]) -> None:
        if self.broken or not entries:
            return
        try:
            pipe = redis_sync().pipeline(transaction=False)
            for sequence, fields in entries:
                pipe.xadd(self.key, fields, id=f"{sequence}-0", maxlen=app_settings.STREAM_MAXLEN, approximate=True)
            pipe.expire(self.key, app_settings.STREAM_TTL_S)
            pipe.execute()
        except redis.RedisError as exc:
            # Once is enough: a Redis that is down would cost every following line a timeout.
            self.broken = True
            logger.warning("live output of %s not published from line %d on: %r", self.execution_id, entries[0][0], exc)


@dataclass(frozen=True)
class StreamEntry:
    sequence: int
    line: str | None = None
    end: dict[str, Any] | None = None


async def read_entries(
    client: redis.asyncio.Redis, *, execution_id: str, after: int, block_ms: int | None
) -> list[StreamEntry]:
    """Entries after line `after`, waiting up to `block_ms` for the first (None: do not wait)."""
    response = await client.xread({stream_key(execution_id): f"{after}-0"}, count=READ_BATCH, block=block_ms)
    entries = []
    for _key, items in response or []:
        for entry_id, fields in items:
            sequence = int(entry_id.split(b"-")[0])
            if END_FIELD in fields:
                entries.append(StreamEntry(sequence, end=json.loads(fields[END_FIELD])))
            else:
                entries.append(StreamEntry(sequence, line=fields.get(LINE_FIELD, b"").decode("utf-8", "replace")))
    return entries


def published_lines(*, execution_id: str) -> list[tuple[int, str]] | None:
    """The lines of a running execution published so far, as (line number, line); None if Redis fails.

    The run page renders these and starts its SSE stream after the last one, so a reload mid-run
    shows each line once (docs/dashboard.md, "Run page").
    """
    try:
        entries = redis_sync().xrange(stream_key(execution_id), min="1-0", max="+")
    except redis.RedisError as exc:
        logger.warning("live output of %s unreadable for the run page: %r", execution_id, exc)
        return None
    lines = []
    for entry_id, fields in entries:
        if LINE_FIELD in fields:
            lines.append((int(entry_id.split(b"-")[0]), fields[LINE_FIELD].decode("utf-8", "replace")))
    return lines


def published_line_times(*, execution_id: str) -> dict[int, int]:
    """When each published line of a run was written (line number → Unix ms), while its stream lives.

    The stored output has no times; the run page shows these beside the lines (empty when the stream
    expired, was never written, or Redis fails: the page then offers no timestamps).
    """
    try:
        entries = redis_sync().xrange(stream_key(execution_id), min="1-0", max="+")
    except redis.RedisError as exc:
        logger.warning("line times of %s unreadable for the run page: %r", execution_id, exc)
        return {}
    return {
        int(entry_id.split(b"-")[0]): int(fields[AT_FIELD])
        for entry_id, fields in entries
        if LINE_FIELD in fields and AT_FIELD in fields
    }
