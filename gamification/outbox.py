"""Per-connection delivery: a bounded queue of pre-encoded frames drained by one writer task.

The hub hands every frame to `Outbox.put`, which never blocks, so one slow or dead client cannot
hold back the fan-out to the others. Memory per client stays bounded: when more than `limit`
frames wait, the outbox gives up and the consumer closes the socket (CLOSE_SLOW_CONSUMER).

The writer only sees backpressure if the server's `send` does. uvicorn's WebSocket `send` waits
for the socket to drain; daphne's writes into Twisted's transport buffer and returns at once, so a
slow reader would grow that buffer without end. Under daphne the writer therefore registers a
Twisted push producer on the connection (`DaphneFlowControl`): Twisted pauses it when the
transport holds more than its buffer size (64 KiB) and resumes it once drained, and the writer
waits while paused — the queued frames then count towards `limit` exactly as under uvicorn.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]


class DaphneFlowControl:
    """A Twisted IPushProducer whose pause state the writer waits on."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()

    def pauseProducing(self) -> None:  # noqa: N802 - Twisted's interface
        self.writable.clear()

    def resumeProducing(self) -> None:  # noqa: N802
        self.writable.set()

    def stopProducing(self) -> None:  # noqa: N802 - the connection is gone; the consumer stops the writer
        self.writable.set()

    @classmethod
    def attach(cls, protocol: Any) -> "DaphneFlowControl | None":
        """Register on daphne's (autobahn) protocol; None when it cannot be (then sends are unthrottled)."""
        flow = cls()
        try:
            protocol.registerProducer(flow, True)
        except Exception as exc:  # noqa: BLE001 - a producer already registered, or the transport is gone
            logger.warning("no flow control for this WebSocket: %r", exc)
            return None
        return flow


class Outbox:
    """Frames waiting for one client, written in order by a single task."""

    def __init__(self, send: Send, *, limit: int, on_overflow: Callable[[], None], flow: DaphneFlowControl | None):
        self._send = send
        self._limit = limit
        self._on_overflow = on_overflow
        self._flow = flow
        self._frames: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()  # set by the writer after each frame it sends (see `wait_room`)
        self._open = True
        self._task = asyncio.get_running_loop().create_task(self._write_forever())

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: str) -> None:
        """Queue a frame; on overflow the outbox closes and calls `on_overflow` once."""
        if not self._open:
            return
        if len(self._frames) >= self._limit:
            self.close()
            self._on_overflow()
            return
        self._frames.append(frame)
        self._wakeup.set()

    async def wait_room(self, count: int) -> bool:
        """Wait until `count` more frames fit under the limit; False if the outbox closed meanwhile.

        Lets a bounded burst (a `resume` replay) go out as fast as the client reads it, without
        counting as a slow client.
        """
        while self._open and len(self._frames) + count > self._limit:
            self._room.clear()
            await self._room.wait()
        return self._open

    def close(self) -> None:
        """Stop writing and drop what is queued."""
        self._open = False
        self._frames.clear()
        self._task.cancel()
        self._room.set()

    async def _write_forever(self) -> None:
        frames, flow = self._frames, self._flow
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while frames:
                    if flow is not None and not flow.writable.is_set():
                        await flow.writable.wait()
                    await self._send({"type": "websocket.send", "text": frames.popleft()})
                    self._room.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the socket went away under us; the disconnect cleans up
            logger.debug("writer stopped: %r", exc)
            self._open = False
            self._room.set()
