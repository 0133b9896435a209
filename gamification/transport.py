"""Sends envelopes to the Channels group layer, from sync and async code alike.

With the history on (the default), publishing first gives the envelope its id and stores it
(`gamification.history`); on the usual deployment — the pub/sub layer on one Redis — the same Lua
script also PUBLISHes the message exactly as the layer's `group_send` would (same channel, same
serialization), so ids, history and delivery order cannot disagree. Otherwise (sharded or other
layers) the envelope is stored first and then sent with `group_send`.

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

from gamification import history
from gamification.app_settings import app_settings
from gamification.fastpath import channels_redis

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


async def _publish(envelope: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if not app_settings.HISTORY_ENABLED:
        await layer.group_send(app_settings.GROUP, layer_message(envelope))
        return
    if channels_redis.check(layer).available:
        envelope["id"] = await history.history_append(
            envelope=envelope,
            message_head=channels_redis.message_head(layer, layer_message(envelope)),
            channel=channels_redis.group_channel(layer, app_settings.GROUP),
        )
        return
    # Stored before it is sent: a client can never see an id that `resume` cannot find.
    envelope["id"] = await history.history_append(envelope=envelope)
    await layer.group_send(app_settings.GROUP, layer_message(envelope))


async def apublish(envelope: dict[str, Any]) -> None:
    """Give the envelope its id (when the history is on), store it and send it to the group.

    Sets `envelope["id"]`; raises when Redis cannot be reached in time.
    """
    await asyncio.wait_for(_publish(envelope), timeout=app_settings.PUBLISH_TIMEOUT_S)


def publish(envelope: dict[str, Any]) -> None:
    """Blocking `apublish` for sync code; raises when the layer cannot be reached in time."""
    future = asyncio.run_coroutine_threadsafe(apublish(envelope), _background_loop())
    future.result(timeout=app_settings.PUBLISH_TIMEOUT_S + 1)
