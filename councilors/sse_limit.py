"""At most API_STREAM_MAX_PER_USER open SSE streams per user over the whole deployment.

docs/http-api.md, "Stream its output (Server-Sent Events)". Counted like the WebSocket's sockets per user
(gamification/user_limit.py, whose leases this reuses under its own key `<prefix>:sse-user:<id>`):
one lease per open stream in Redis, renewed by the process that serves it, so a gateway that
dies stops counting within the lease's lifetime. With Redis unreachable, this process's streams
are counted alone: streams are not refused because Redis is down.
"""

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from functools import partial

from gamification.loop_local import loop_local
from gamification.user_limit import UserSockets
from infrastructure.app_settings import app_settings


class UserStreams(UserSockets):
    """This process's SSE streams per user, and their leases in Redis (renewed while any is open)."""

    KEY = "sse-user"

    def __init__(self) -> None:
        super().__init__()
        self._renewal: asyncio.Task[None] | None = None

    def limit(self) -> int:
        return app_settings.STREAM_MAX_PER_USER

    async def acquire(self, *, user_id: int, client_id: str) -> bool:
        """Take a slot for this stream; False when the user already has the maximum open."""
        if self._renewal is None or self._renewal.done():
            self._renewal = asyncio.get_running_loop().create_task(self.run())
        return await super().acquire(user_id=user_id, client_id=client_id)


# The running event loop's streams (one per gateway process).
user_streams: Callable[[], UserStreams] = loop_local(UserStreams)


class LeasedStream:
    """A stream's SSE text that gives its lease back however the stream ends.

    However it ends: its events end (`execution_output_events` calls `release` in its `finally`,
    also when daphne cancels it because the client went away), Django closes the response
    (`close()`, which Django calls on every response it finished sending, from any thread), or
    the response is dropped unsent (a client gone before its first byte: then the object is
    collected, and `weakref.finalize` gives the lease back). Giving a lease back twice does nothing.
    """

    def __init__(self, events: Callable[..., AsyncIterator[str]], *, user_id: int, stream_id: str) -> None:
        self.streams = user_streams()
        self.user_id = user_id
        self.stream_id = stream_id
        self._loop = asyncio.get_running_loop()
        self._events = events(on_close=self.release)
        weakref.finalize(self, _release_soon, self._loop, self.streams, user_id, stream_id)

    async def acquire(self) -> bool:
        return await self.streams.acquire(user_id=self.user_id, client_id=self.stream_id)

    async def release(self) -> None:
        await self.streams.release(user_id=self.user_id, client_id=self.stream_id)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._events.__aiter__()

    def close(self) -> None:
        _release_soon(self._loop, self.streams, self.user_id, self.stream_id)


def _release_soon(loop: asyncio.AbstractEventLoop, streams: UserStreams, user_id: int, stream_id: str) -> None:
    """Give a stream's lease back on its event loop, from any thread (nothing to do once the loop is closed)."""
    if loop.is_closed():
        return
    release = partial(streams.release, user_id=user_id, client_id=stream_id)
    with suppress(RuntimeError):  # the loop closed in between: the leases run out by themselves
        loop.call_soon_threadsafe(lambda: loop.create_task(release()))
