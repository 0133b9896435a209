"""Sends envelopes to the Channels group layer, from sync and async code alike.

Sync callers (django-q2 workers, commands, views) share one event loop thread per process, so the
layer's Redis connection is reused instead of being opened and closed for every event as
`async_to_sync` would (it runs each call on a fresh loop). The thread is per PID because django-q2
forks its workers and a forked child has no copy of its parent's threads.
"""

import asyncio
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

from gamification.app_settings import app_settings

EVENT_MESSAGE_TYPE = "gamification.event"

_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(target=_loop.run_forever, name="gamification-publisher", daemon=True).start()
        return _loop


def layer_message(envelope: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message that carries one envelope to every gateway process."""
    return {"type": EVENT_MESSAGE_TYPE, "envelope": envelope}


async def apublish(envelope: dict[str, Any]) -> None:
    """Send the envelope to the group; raises when the layer cannot be reached in time."""
    layer = get_channel_layer()
    await asyncio.wait_for(
        layer.group_send(app_settings.GROUP, layer_message(envelope)), timeout=app_settings.PUBLISH_TIMEOUT_S
    )


def publish(envelope: dict[str, Any]) -> None:
    """Blocking `apublish` for sync code; raises when the layer cannot be reached in time."""
    future = asyncio.run_coroutine_threadsafe(apublish(envelope), _background_loop())
    future.result(timeout=app_settings.PUBLISH_TIMEOUT_S + 1)
