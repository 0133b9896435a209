"""A listener on the real channel layer for synchronous tests: every envelope the gateway group gets."""

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer

from gamification import payloads
from gamification.app_settings import app_settings
from gamification.events import emit

Envelope = dict[str, Any]


class LayerListener:
    """Joins the gateway group from a thread with its own event loop and queues what arrives."""

    def __init__(self) -> None:
        self.received: queue.Queue[Envelope] = queue.Queue()
        self.seen: list[Envelope] = []
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="layer-listener", daemon=True).start()
        self._layer = get_channel_layer()
        self._channel = self._call(self._join())
        self._task = asyncio.run_coroutine_threadsafe(self._receive_forever(), self._loop)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _join(self) -> str:
        channel = await self._layer.new_channel()
        await self._layer.group_add(app_settings.GROUP, channel)
        return channel

    async def _receive_forever(self) -> None:
        while True:
            message = await self._layer.receive(self._channel)
            self.received.put(message["envelope"])

    def wait_for(self, predicate: Callable[[Envelope], bool], timeout: float = 30.0) -> Envelope:
        """The first envelope (from now on) matching `predicate`; everything received is kept in `seen`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching event in {timeout}s; saw {[e['type'] for e in self.seen]}")
            try:
                envelope = self.received.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(envelope)
            if predicate(envelope):
                return envelope

    def drain(self, quiet_for: float) -> list[Envelope]:
        """What else arrives until nothing has for `quiet_for` seconds (for "this must not arrive")."""
        extra = []
        while True:
            try:
                envelope = self.received.get(timeout=quiet_for)
            except queue.Empty:
                return extra
            self.seen.append(envelope)
            extra.append(envelope)

    def so_far(self) -> list[Envelope]:
        """Every event published until now: a marker sent last arrives after all of them (one publisher)."""
        marker = f"exec_marker_{len(self.seen)}"
        emit(*payloads.councilor_run_queued(councilor_id="marker", execution_id=marker))
        self.wait_for(lambda envelope: envelope["data"].get("execution_id") == marker, timeout=10)
        return [envelope for envelope in self.seen if envelope["data"].get("execution_id") != marker]

    def close(self) -> None:
        self._task.cancel()
        try:
            self._call(self._layer.group_discard(app_settings.GROUP, self._channel))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)


def of_type(event_type: str, **data: Any) -> Callable[[Envelope], bool]:
    """A predicate: the event type and, optionally, some data fields."""
    return lambda envelope: (
        envelope["type"] == event_type and all(envelope["data"].get(name) == value for name, value in data.items())
    )


def toggles(envelopes: list[Envelope]) -> list[tuple[str, dict[str, Any]]]:
    """The pauses and resumes among `envelopes`, as (type, data)."""
    return [(e["type"], e["data"]) for e in envelopes if e["type"] in ("councilor_paused", "councilor_resumed")]
