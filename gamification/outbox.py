"""Per-connection delivery: a bounded queue of pre-encoded frames per client, never blocking the hub.

The hub hands every frame to `put`, which returns at once, so one slow or dead client cannot hold
back the fan-out to the others. Memory per client stays bounded: when more than `limit` frames
wait, the outbox gives up and calls `on_overflow` (the consumer closes with CloseCode.SLOW_CONSUMER).

`AsgiOutbox` works under any ASGI server through its `send`. Under uvicorn that `send` waits while
the socket's write buffer is full, so a slow reader's frames pile up here, where they are counted.

`DaphneOutbox`: daphne's `send` never waits — it writes into Twisted's transport buffer, which
would grow without end behind a slow reader. So under daphne the outbox registers itself as a push
producer on the transport: Twisted pauses it when the transport holds more than its buffer size
(64 KiB) and resumes it once drained. While not paused, frames go straight to the socket, framed
once per event for all clients, with no task switch per client; while paused they wait in the
bounded queue. Everything it does to daphne's internals is in gamification/fastpath/daphne.py.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from gamification import metrics
from gamification.fastpath import daphne

logger = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]


class Frame:
    """One message encoded once for every client: JSON text, and for daphne a ready WebSocket frame."""

    __slots__ = ("text", "_prepared")

    def __init__(self, text: str) -> None:
        self.text = text
        self._prepared: Any = None

    @property
    def prepared(self) -> Any:
        if self._prepared is None:
            self._prepared = daphne.prepare(self.text)
        return self._prepared


async def _drive(coro: Any, yielded: Any) -> None:
    """Run the rest of a coroutine that `put` already stepped once and that then had to wait.

    This is what an asyncio Task does with a coroutine, started late: wait until the future it
    yielded is done, then resume it (it reads the future's outcome itself).
    """
    loop = asyncio.get_running_loop()
    try:
        while True:
            if yielded is None:
                await asyncio.sleep(0)  # a bare yield: it only gave the loop a turn
            else:
                # Not `await yielded`: the coroutine already marked that future as awaited.
                resumed = loop.create_future()
                yielded.add_done_callback(lambda _, resumed=resumed: resumed.done() or resumed.set_result(None))
                await resumed
            try:
                yielded = coro.send(None)
            except StopIteration:
                return
    finally:
        coro.close()


def _nothing() -> None:
    pass


# An outbox with nothing queued shares this one: it only answers "empty" (`_queue` makes a deque).
_NO_FRAMES: deque[Any] = deque(maxlen=0)


class AsgiOutbox:
    """Frames waiting for one client, written in order through the ASGI server's `send`.

    While the client keeps up, `put` steps the `send` coroutine at once and it completes without
    suspending (the common case: no task, no task switch per frame). If `send` has to wait (the
    socket's buffer is full), a task finishes it and drains the frames queued meanwhile.
    """

    # Thousands of these live as long as their connections: no instance dict, and the queue and the
    # events are made only when something waits (an empty deque or asyncio.Event holds a 0.5 KB block).
    __slots__ = ("_send", "_limit", "_on_overflow", "_frames", "_open", "_task", "_room")

    def __init__(self, send: Send, *, limit: int, on_overflow: Callable[[], None]) -> None:
        self._send = send
        self._limit = limit
        self._on_overflow = on_overflow
        self._frames: deque[Frame] = _NO_FRAMES  # a deque of its own once a frame has to wait
        self._open = True
        self._task: asyncio.Task[None] | None = None  # the writer, while one is needed
        self._room: asyncio.Event | None = None  # set whenever queued frames leave, while `wait_room` waits

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: Frame) -> None:
        """Send or queue a frame; on overflow the outbox closes and calls `on_overflow` once."""
        if not self._open:
            return
        if self._task is None and not self._frames:
            self._write_eagerly(frame)
            return
        self._queue(frame)

    def put_many(self, frames: list[Frame]) -> None:
        """`put` each frame, in order (a replay; the daphne outbox writes them at once)."""
        for frame in frames:
            self.put(frame)

    async def wait_room(self, count: int) -> bool:
        """Wait until `count` more frames fit under the limit; False if the outbox closed meanwhile.

        Lets a bounded burst (a `resume` replay) go out as fast as the client reads it, without
        counting as a slow client.
        """
        while self._open and len(self._frames) + count > self._limit:
            if self._room is None:
                self._room = asyncio.Event()
            self._room.clear()
            await self._room.wait()
        return self._open

    def close(self) -> None:
        """Stop writing and drop what is queued; a closed outbox calls nothing back."""
        self._open = False
        self._on_overflow = _nothing  # usually the consumer's own method: no cycle left to collect
        self._frames = _NO_FRAMES
        self._made_room()
        if self._task is not None:
            self._task.cancel()

    def _made_room(self) -> None:
        if self._room is not None:
            self._room.set()

    def _queue(self, frame: Frame) -> None:
        if len(self._frames) >= self._limit:
            on_overflow = self._on_overflow
            self.close()
            on_overflow()
            return
        if self._frames is _NO_FRAMES:
            self._frames = deque()
        self._frames.append(frame)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._finish_and_drain())

    def _write_eagerly(self, frame: Frame) -> None:
        coro = self._send({"type": "websocket.send", "text": frame.text})
        try:
            yielded = coro.send(None)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - the socket went away under us; the disconnect cleans up
            logger.debug("send failed: %r", exc)
            self._open = False
            return
        self._task = asyncio.get_running_loop().create_task(self._finish_and_drain(coro, yielded))

    async def _finish_and_drain(self, coro: Any = None, yielded: Any = None) -> None:
        try:
            if coro is not None:
                await _drive(coro, yielded)
            while self._frames:
                await self._wait_writable()
                if self._frames:
                    await self._write(self._frames.popleft())
                    self._made_room()
            self._frames = _NO_FRAMES  # drained: give the deque's block back
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the socket went away under us; the disconnect cleans up
            logger.debug("writer stopped: %r", exc)
            self._open = False
            self._made_room()
        finally:
            self._task = None  # no await between the last empty check and here: nothing is stranded

    async def _wait_writable(self) -> None:
        """The ASGI server's own `send` applies the backpressure."""

    async def _write(self, frame: Frame) -> None:
        await self._send({"type": "websocket.send", "text": frame.text})


async def _no_asgi_send(message: dict[str, Any]) -> None:
    raise RuntimeError("the daphne outbox writes to its socket, never through ASGI send")


class DaphneOutbox(AsgiOutbox):
    """Writes straight into daphne's Twisted transport while it drains; queues while it is paused."""

    __slots__ = ("_socket", "_paused", "_resumed")

    def __init__(self, protocol: Any, *, limit: int, on_overflow: Callable[[], None]) -> None:
        super().__init__(_no_asgi_send, limit=limit, on_overflow=on_overflow)
        self._socket = daphne.DaphneSocket(protocol)
        self._paused = False  # Twisted's transport holds more than its buffer size
        self._resumed: asyncio.Event | None = None  # made when the writer waits for a resume
        self._socket.register_producer(self)

    # Twisted IPushProducer
    def pauseProducing(self) -> None:  # noqa: N802
        self._paused = True

    def resumeProducing(self) -> None:  # noqa: N802
        self._paused = False
        if self._resumed is not None:
            self._resumed.set()
            self._resumed = None

    def stopProducing(self) -> None:  # noqa: N802 - the connection is gone; the consumer closes the outbox
        self.resumeProducing()

    def put(self, frame: Frame) -> None:
        if not self._open:
            return
        if not self._frames and not self._paused:
            self._socket.write(frame.prepared)  # (`_write_now`, without its call: once per frame per client)
            return
        self._queue(frame)

    def put_many(self, frames: list[Frame]) -> None:
        """Write a replay's frames with one socket write while nothing is queued, else queue them."""
        if not self._open or not frames:
            return
        if not self._frames and not self._paused:
            self._socket.write_many([frame.prepared for frame in frames])
            return
        for frame in frames:
            self._queue(frame)
            if not self._open:  # over the limit: closed
                return

    def _write_now(self, frame: Frame) -> None:
        self._socket.write(frame.prepared)

    async def _wait_writable(self) -> None:
        while self._paused:
            if self._resumed is None:
                self._resumed = asyncio.Event()
            await self._resumed.wait()

    async def _write(self, frame: Frame) -> None:
        self._write_now(frame)


def make_outbox(*, send: Send, daphne_protocol: Any | None, limit: int, on_overflow: Callable[[], None]) -> AsgiOutbox:
    """The daphne outbox when running under daphne (and its transport allows it), else the ASGI one."""
    if daphne_protocol is not None:
        try:
            outbox = DaphneOutbox(daphne_protocol, limit=limit, on_overflow=on_overflow)
        except Exception as exc:  # noqa: BLE001 - an unexpected Twisted transport: plain ASGI still works
            logger.warning("daphne fast path unavailable for this WebSocket (%r); using ASGI send", exc)
        else:
            metrics.write_path_chosen(daphne.FAST_PATH)
            return outbox
    metrics.write_path_chosen(daphne.SLOW_PATH)
    return AsgiOutbox(send, limit=limit, on_overflow=on_overflow)
