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
from collections.abc import Sequence
from typing import Any

from channels.layers import get_channel_layer

from gamification import history
from gamification.app_settings import app_settings
from gamification.catalogue import PRIVATE_TYPES
from gamification.fastpath import channels_redis
from gamification.history import AUDIENCE_KEY

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


def layer_message(envelope: dict[str, Any], *, requester: int | None = None) -> dict[str, Any]:
    """The channel-layer message that carries one envelope to every gateway process.

    The envelope is the full one; an event with private details also names who asked for its run
    (AUDIENCE_KEY), so each gateway can pick the shape each client may see (gamification/shapes.py).
    A plain Channels consumer of the group is server-side code of this project: it gets both.
    The envelope comes last: the history script appends the id to the serialized message.
    """
    if envelope["type"] not in PRIVATE_TYPES:
        return {"type": EVENT_MESSAGE_TYPE, "envelope": envelope}
    return {"type": EVENT_MESSAGE_TYPE, AUDIENCE_KEY: {"requester": requester}, "envelope": envelope}


def message_requester(message: dict[str, Any]) -> int | None:
    """Who asked for the run of the event a layer message carries (None: nobody said)."""
    audience = message.get(AUDIENCE_KEY)
    requester = audience.get("requester") if isinstance(audience, dict) else None
    return requester if isinstance(requester, int) and not isinstance(requester, bool) else None


async def _publish(envelope: dict[str, Any], requester: int | None) -> None:
    layer = get_channel_layer()
    message = layer_message(envelope, requester=requester)
    if not app_settings.HISTORY_ENABLED:
        await layer.group_send(app_settings.GROUP, message)
        return
    if channels_redis.check(layer).available:
        envelope["id"] = await history.history_append(
            envelope=envelope,
            requester=requester,
            message_head=channels_redis.message_head(layer, message),
            channel=channels_redis.group_channel(layer, app_settings.GROUP),
        )
        return
    # Stored before it is sent: a client can never see an id that `resume` cannot find.
    envelope["id"] = await history.history_append(envelope=envelope, requester=requester)
    await layer.group_send(app_settings.GROUP, message)


async def apublish(envelope: dict[str, Any], *, requester: int | None = None) -> None:
    """Give the envelope its id (when the history is on), store it and send it to the group.

    `requester`: the pk of the user who asked for the run the event is about (its private details
    are theirs). Sets `envelope["id"]`; raises when Redis cannot be reached in time.
    """
    await asyncio.wait_for(_publish(envelope, requester), timeout=app_settings.PUBLISH_TIMEOUT_S)


def publish(envelope: dict[str, Any], *, requester: int | None = None) -> None:
    """Blocking `apublish` for sync code; raises when the layer cannot be reached in time."""
    (failure,) = publish_all([(envelope, requester)])
    if failure is not None:
        raise failure


def publish_all(published: Sequence[tuple[dict[str, Any], int | None]]) -> list[Exception | None]:
    """`publish` for several (envelope, requester) pairs, in order: each one's failure, None where it
    was published.

    On the usual deployment the history script publishes them all (or none) in one call, right here
    on the process's blocking Redis client: handing each event to the event loop thread cost a worker
    about five times the script's own CPU (bench/runs.py's profile). Otherwise each goes through the
    layer's `group_send`, which needs that loop.
    """
    layer = get_channel_layer()
    if not (app_settings.HISTORY_ENABLED and channels_redis.check(layer).available):
        return [_published_on_loop_or_failure(envelope, requester) for envelope, requester in published]
    appends = [
        (envelope, requester, channels_redis.message_head(layer, layer_message(envelope, requester=requester)))
        for envelope, requester in published
    ]
    try:
        ids = history.history_append_all_blocking(appends, channel=_group_channel(layer))
    except Exception as exc:  # noqa: BLE001 - the caller counts and logs it: none was published
        return [exc] * len(published)
    for (envelope, _requester), assigned in zip(published, ids, strict=True):
        envelope["id"] = assigned
    return [None] * len(published)


def _published_on_loop_or_failure(envelope: dict[str, Any], requester: int | None) -> Exception | None:
    try:
        future = asyncio.run_coroutine_threadsafe(apublish(envelope, requester=requester), _background_loop())
        future.result(timeout=app_settings.PUBLISH_TIMEOUT_S + 1)
    except Exception as exc:  # noqa: BLE001 - the caller counts and logs it, and goes on with the next
        return exc
    return None


# Per layer (tests replace layers), per group name: the Redis channel it publishes the group on.
_group_channels: "weakref.WeakKeyDictionary[Any, dict[str, str]]" = weakref.WeakKeyDictionary()


def _group_channel(layer: Any) -> str:
    """The Redis channel of the events' group, asked of the layer once (the layer answers inside a loop)."""
    group, known = app_settings.GROUP, _group_channels.setdefault(layer, {})
    if group not in known:

        async def ask() -> str:
            return channels_redis.group_channel(layer, group)

        known[group] = asyncio.run_coroutine_threadsafe(ask(), _background_loop()).result(
            timeout=app_settings.PUBLISH_TIMEOUT_S + 1
        )
    return known[group]
