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
import weakref
from typing import Any

import msgpack
from channels.layers import BaseChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

from gamification import history
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


_SPLICE_PROBE = {"type": EVENT_MESSAGE_TYPE, "envelope": {"id": None}}
_spliceable: "weakref.WeakKeyDictionary[BaseChannelLayer, bool]" = weakref.WeakKeyDictionary()


def _publishes_in_script(layer: BaseChannelLayer) -> bool:
    """Whether the history script can PUBLISH this layer's group messages itself (checked once per layer).

    It can for the pub/sub layer on a single Redis whose serializer leaves the id's bytes at the end
    of the message (plain msgpack, not encrypted): proven by splicing a probe and reading it back.
    """
    if layer not in _spliceable:
        ok = isinstance(layer, RedisPubSubChannelLayer) and len(history._layer_config().get("hosts") or [None]) == 1
        if ok:
            packed = layer.serialize(_SPLICE_PROBE)
            try:
                spliced = layer.deserialize(packed[:-1] + msgpack.packb(7))
            except Exception:  # noqa: BLE001 - any failure just means "cannot splice"
                spliced = None
            ok = packed.endswith(b"\xc0") and spliced == {"type": EVENT_MESSAGE_TYPE, "envelope": {"id": 7}}
        _spliceable[layer] = ok
    return _spliceable[layer]


async def _publish(envelope: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if not app_settings.HISTORY_ENABLED:
        await layer.group_send(app_settings.GROUP, layer_message(envelope))
        return
    if _publishes_in_script(layer):
        # The layer names the group channel itself (channels-redis is pinned: this method is not public API).
        channel = layer._get_group_channel_name(app_settings.GROUP)
        message_bytes = layer.serialize(layer_message(envelope))
        envelope["id"] = await history.history_append(envelope=envelope, message_bytes=message_bytes, channel=channel)
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
