"""One Redis connection per gateway process waits for new output of every run that SSE clients follow.

docs/http-api.md, "Stream its output (Server-Sent Events)". Each SSE stream reads its run's lines itself, with
the process's shared Redis client and without blocking (`read_entries(..., block_ms=None)`);
when it has read everything, it waits here. The watch keeps one connection of its own blocked in
one `XREAD BLOCK` over the streams of every waiting client (each stream from the oldest position
a client of it waits at), and wakes the clients of a stream as soon as it has lines past theirs.
A client that starts waiting on a stream or position the current XREAD does not cover unblocks it
(`CLIENT UNBLOCK`, from the shared client) so that the next XREAD includes it. So a thousand open
streams hold one Redis connection, not a thousand; with no one waiting the connection is closed.

When Redis fails, every waiting client is told (its stream then follows the database, as before)
and the next wait tries again.
"""

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

import redis
import redis.asyncio

from gamification.loop_local import loop_local
from infrastructure.redis_access import redis_async, redis_async_dedicated

logger = logging.getLogger(__name__)

WATCH_CLIENT_NAME = "sse-watch"
# How long one XREAD blocks when nothing changes (a new waiter unblocks it sooner).
WATCH_BLOCK_MS = 30_000
# redis-py's own default (5 s) would end a blocked XREAD as a failure.
WATCH_SOCKET_TIMEOUT_S = WATCH_BLOCK_MS / 1000 + 5
# Entries read per stream and round: only to learn how far each stream goes.
WATCH_BATCH = 100
# After a Redis failure, the watch waits this long before its next try.
RETRY_PAUSE_S = 1.0


class OutputWatch:
    """This event loop's waiters per stream key, and the one task (and connection) that wakes them."""

    def __init__(self) -> None:
        self._waiters: dict[str, dict[asyncio.Future[None], int]] = {}
        self._reading: dict[str, int] = {}  # what the XREAD in flight covers: key → position
        self._task: asyncio.Task[None] | None = None
        self._client: redis.asyncio.Redis | None = None
        self._client_id: int | None = None

    def waiting(self, key: str) -> int:
        """How many clients wait for the stream `key` now."""
        return len(self._waiters.get(key, ()))

    @property
    def connected(self) -> bool:
        """Whether the watch holds its Redis connection now."""
        return self._client is not None

    async def wait(self, key: str, *, after: int, timeout: float) -> bool:
        """Until the stream `key` has an entry past `after` (True) or `timeout` passes (False).

        Raises the Redis error that stopped the watch, so the caller can fall back to the database.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, {})[future] = after
        self._take_in(key, after)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.pop(future, None)
                if not waiting:
                    del self._waiters[key]

    def _take_in(self, key: str, after: int) -> None:
        """Make sure the watch covers `key` from `after`: start it, or unblock the XREAD in flight."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
            return
        covered = self._reading.get(key)
        if covered is None or covered > after:
            if self._client_id is not None and self._reading:
                asyncio.get_running_loop().create_task(_unblock(self._client_id))

    async def _run(self) -> None:
        try:
            while self._waiters:
                positions = {key: min(waiting.values()) for key, waiting in self._waiters.items() if waiting}
                try:
                    response = await self._read(positions)
                except (redis.RedisError, OSError) as exc:
                    await self._failed(exc)
                    continue
                self._wake(response)
        finally:
            self._task = None  # set before any await below: a wait from now on starts a new task
            self._reading = {}
            await self._disconnect()

    async def _read(self, positions: dict[str, int]) -> list:
        if self._client is None:
            self._client = redis_async_dedicated(
                client_name=WATCH_CLIENT_NAME,
                single_connection_client=True,  # one connection, whose CLIENT ID `_unblock` names
                socket_timeout=WATCH_SOCKET_TIMEOUT_S,
            )
            self._client_id = await self._client.client_id()
        self._reading = positions
        try:
            streams = {key: f"{position}-0" for key, position in positions.items()}
            return await self._client.xread(streams, count=WATCH_BATCH, block=WATCH_BLOCK_MS) or []
        finally:
            self._reading = {}

    def _wake(self, response: list) -> None:
        for raw_key, items in response:
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            newest = max(int(entry_id.split(b"-")[0]) for entry_id, _ in items)
            waiting = self._waiters.get(key, {})
            for future, after in list(waiting.items()):
                if after < newest:
                    waiting.pop(future)  # woken: the next XREAD starts from the clients still waiting
                    if not future.done():
                        future.set_result(None)
            if not waiting:
                self._waiters.pop(key, None)

    async def _failed(self, exc: BaseException) -> None:
        logger.warning("the SSE streams' Redis watch failed (%r); their clients follow the database", exc)
        for waiting in self._waiters.values():
            for future in list(waiting):
                if not future.done():
                    future.set_exception(exc)
            waiting.clear()
        self._waiters = {key: waiting for key, waiting in self._waiters.items() if waiting}
        await self._disconnect()
        await asyncio.sleep(RETRY_PAUSE_S)

    async def _disconnect(self) -> None:
        client, self._client, self._client_id = self._client, None, None
        if client is not None:
            with suppress(Exception):
                await client.aclose()


async def _unblock(client_id: int) -> None:
    """End the watch's XREAD now (it then reads again with every waiter); harmless if it is not blocked."""
    try:
        await redis_async().client_unblock(client_id)
    except (redis.RedisError, OSError) as exc:  # the XREAD ends within WATCH_BLOCK_MS anyway
        logger.debug("could not unblock the SSE watch (%r)", exc)


# The running event loop's watch (one per gateway process).
output_watch: Callable[[], OutputWatch] = loop_local(OutputWatch)
