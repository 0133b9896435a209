"""channels-redis internals the event transport relies on (channels-redis and msgpack are pinned in
requirements.txt); nothing else in the project touches them.

The history's Lua script PUBLISHes each event exactly as `RedisPubSubChannelLayer.group_send` would
(gamification/history.py), so that assigning the id, storing the event and sending it are one
atomic step and every gateway receives events in id order. For that it needs what the layer does
not offer publicly:
- the Redis channel a group is published on (`_get_group_channel_name`);
- the layer's serialization of a message ending with the envelope's `id` (msgpack nil), so the
  script can splice the id in — proven by splicing a probe message and reading it back;
- one Redis host (a sharded layer may publish a group on another shard); a Sentinel group is one
  host entry, and the layer and the script both talk to its one primary.
Without them the transport stores the event first and sends it with `group_send` afterwards: still
never an id that `resume` cannot find, but concurrent emitters' events may arrive out of id order.
"""

import logging
import weakref
from typing import Any

import msgpack

from infrastructure.fastpath.capability import Capability, logged

logger = logging.getLogger(__name__)

_MSGPACK_NIL = b"\xc0"
# Logged once per layer by `check()`.
MSG_AVAILABLE = "event publishing: in the history script (%s)"
MSG_UNAVAILABLE = "event publishing: store, then group_send (%s)"
_PROBE_TYPE = "gamification.probe"


_checked: "weakref.WeakKeyDictionary[Any, Capability]" = weakref.WeakKeyDictionary()


def _probe(layer: Any) -> Capability:
    from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer

    if not isinstance(layer, RedisPubSubChannelLayer):
        return Capability(False, f"the channel layer is {type(layer).__name__}, not RedisPubSubChannelLayer")
    hosts = layer._kwargs.get("hosts") or [None]
    if len(hosts) != 1:
        return Capability(False, "the channel layer is sharded over several Redis hosts")
    if not callable(getattr(RedisPubSubLoopLayer, "_get_group_channel_name", None)):
        return Capability(False, "channels-redis no longer has _get_group_channel_name")
    packed = layer.serialize({"type": _PROBE_TYPE, "envelope": {"id": None}})
    try:
        spliced = layer.deserialize(packed[: -len(_MSGPACK_NIL)] + msgpack.packb(7))
    except Exception:  # noqa: BLE001 - any failure just means "cannot splice" (encryption, another format)
        spliced = None
    if not packed.endswith(_MSGPACK_NIL) or spliced != {"type": _PROBE_TYPE, "envelope": {"id": 7}}:
        return Capability(False, "the layer's serializer does not end a message with its last value (encrypted?)")
    where = "a Sentinel group's primary" if isinstance(hosts[0], dict) and "master_name" in hosts[0] else "one host"
    return Capability(True, f"pub/sub layer on {where} with plain msgpack: the history script publishes")


def check(layer: Any = None) -> Capability:
    """Whether the history script can publish for `layer` (the default layer); logged once per layer."""
    if layer is None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
    if layer not in _checked:
        _checked[layer] = logged(_probe(layer), logger, available=MSG_AVAILABLE, unavailable=MSG_UNAVAILABLE)
    return _checked[layer]


def group_channel(layer: Any, group: str) -> str:
    """The Redis channel the pub/sub layer publishes `group`'s messages on (needs a running loop)."""
    return layer._get_group_channel_name(group)


def message_head(layer: Any, message: dict[str, Any]) -> bytes:
    """The layer's bytes for `message`, whose very last value is a None id, with that None cut off."""
    packed = layer.serialize(message)
    if not packed.endswith(_MSGPACK_NIL):
        raise ValueError("the layer message does not end with the envelope's id")
    return packed[: -len(_MSGPACK_NIL)]
