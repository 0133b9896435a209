"""Event ids and the bounded event history (SPEC §3 `id`, §5), kept in the channel layer's Redis.

One Lua script does, atomically: take the next id from a deployment-wide counter, store the
envelope (as JSON, scored by its id) in a sorted set trimmed to the newest HISTORY_SIZE, and —
when the layer allows it — PUBLISH the channel-layer message to the group. Because the id, the
history entry and the publication happen in one step:
- an id a client has seen is always in the history (it was stored before anyone could see it);
- the history holds every id up to the newest with no holes (apart from what was trimmed);
- every gateway receives events in id order, so "the last id I saw" is a true watermark.

If the counter key is missing (first event ever, or Redis lost its data), it restarts at the
Redis server's Unix time in microseconds, so ids keep increasing across restarts of everything
as long as the deployment averages fewer than a million events per second (ids stay below 2**53,
exact in JavaScript, until the year 2255).
"""

import asyncio
import json
import types
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NamedTuple

from channels_redis.utils import create_pool
from django.conf import settings
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from gamification.app_settings import app_settings
from gamification.catalogue import ALL_TOPICS

# KEYS: counter, history, origin. ARGV: JSON head, message head, max events, ttl seconds, channel ('' = no publish).
# The heads are the envelope's JSON and the layer's msgpack message serialized with `id` last and
# its value cut off; the script appends the id to both (see `split_heads`).
_APPEND_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  local origin = string.format('%d', now[1] * 1000000 + now[2])
  redis.call('SET', KEYS[1], origin)
  redis.call('SET', KEYS[3], origin)
end
local id = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], id, ARGV[1] .. string.format('%d', id) .. '}')
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
redis.call('EXPIRE', KEYS[2], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('PUBLISH', ARGV[5], ARGV[2] .. cmsgpack.pack(id))
end
return id
"""

_JSON_ID_TAIL = "null}"
_MSGPACK_NIL = b"\xc0"

# Per event loop, per Redis host (settings may change under tests): the clients opened so far.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]]" = (
    weakref.WeakKeyDictionary()
)


def encode_frame(envelope: dict[str, Any]) -> str:
    """The WebSocket text of an envelope (the hub sends live events in the same encoding)."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class HistoryPage:
    """Events with since < id <= last_id of the requested topics, oldest first."""

    events: list[dict[str, Any]]
    frames: list[str]  # the same events, as stored: ready to send on a WebSocket
    complete: bool  # False: some events after `since` are no longer kept; reload state instead
    last_id: int  # the newest id the answer covers; ask from here next time


def _layer_config() -> dict[str, Any]:
    return settings.CHANNEL_LAYERS["default"].get("CONFIG", {})


def redis_host() -> dict[str, Any]:
    """The history lives on the (first) Redis of the channel layer, beside the messages it orders."""
    hosts = _layer_config().get("hosts") or [{"address": settings.REDIS_URL}]
    host = hosts[0]
    return dict(host) if isinstance(host, dict) else {"address": host}


class Keys(NamedTuple):
    counter: str  # the newest id assigned
    history: str  # the sorted set of kept envelopes
    origin: str  # where the counter (re)started: ids at or below it belong to no kept history


def keys() -> Keys:
    """The Redis keys, under the channel layer's prefix so deployments sharing a Redis stay apart."""
    base = f"{_layer_config().get('prefix', 'asgi')}:gamification"
    return Keys(f"{base}:event_id", f"{base}:history", f"{base}:event_id_origin")


def _reconnecting() -> dict[str, Any]:
    """Pool options: a command that finds its pooled connection dead is retried on a fresh one.

    After Redis restarts, every pooled connection is stale and fails on first use; without a retry
    the first `resume` answered `history_unavailable` and the first event a worker emitted was lost.
    Only connection errors are retried (the command never reached a live server); a timeout is
    not, since the script may have run (a retry would give one event two ids).
    """
    return {"retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 3), "retry_on_error": [RedisConnectionError]}


def _close_with_loop(loop: asyncio.AbstractEventLoop) -> None:
    # Connections belong to the loop that opened them; close them while that loop can still run
    # (the same trick channels_redis uses for its own connections).
    original_close = loop.close

    def close(self: asyncio.AbstractEventLoop) -> None:
        clients = _clients.pop(self, {})
        if not self.is_running():
            for redis_client in clients.values():
                self.run_until_complete(redis_client.aclose(close_connection_pool=True))
        self.close = original_close
        original_close()

    loop.close = types.MethodType(close, loop)


def client() -> aioredis.Redis:
    """This event loop's client for the history Redis."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = {}
        _close_with_loop(loop)
    host = redis_host()
    clients = _clients[loop]
    if repr(host) not in clients:
        clients[repr(host)] = aioredis.Redis(connection_pool=create_pool({**_reconnecting(), **host}))
    return clients[repr(host)]


def split_heads(envelope: dict[str, Any], message_bytes: bytes | None) -> tuple[str, bytes]:
    """The envelope's JSON and the serialized layer message, each cut just before the id's value.

    Both were produced with `id` None as the very last value (the envelope's last key, the envelope
    being the message's last value), so appending the id's encoding completes them.
    """
    if envelope.get("id") is not None or next(reversed(envelope)) != "id":
        raise ValueError("the envelope must end with an unassigned id")
    text = encode_frame(envelope)
    json_head = text[: -len(_JSON_ID_TAIL)]
    if message_bytes is None:
        return json_head, b""
    if not message_bytes.endswith(_MSGPACK_NIL):
        raise ValueError("the layer message does not end with the envelope's id")
    return json_head, message_bytes[: -len(_MSGPACK_NIL)]


async def history_append(*, envelope: dict[str, Any], message_bytes: bytes | None = None, channel: str = "") -> int:
    """Assign the envelope its id and store it; also PUBLISH `message_bytes` (id spliced in) to `channel` if given."""
    json_head, message_head = split_heads(envelope, message_bytes if channel else None)
    event_id = await client().eval(
        _APPEND_LUA,
        3,
        *keys(),
        json_head,
        message_head,
        app_settings.HISTORY_SIZE,
        app_settings.HISTORY_TTL_S,
        channel,
    )
    return int(event_id)


async def newest_id() -> int:
    """The newest id assigned in the deployment (0 before the first event)."""
    raw = await client().get(keys().counter)
    return int(raw or 0)


def _wanted(topics: Collection[str], event_type: str) -> bool:
    return ALL_TOPICS in topics or event_type in topics


async def history_since(*, since: int, topics: Collection[str], until: int | None = None) -> HistoryPage:
    """The kept events with since < id <= until (the newest by default) whose type is in `topics`.

    `complete` is False when events after `since` were already trimmed, or when `since` is newer
    than any id this deployment assigned (an id from a Redis that lost its data). `since` 0 means
    "from the start" (a client whose `connected.last_id` was 0): complete while the history still
    holds the counter's first event.
    """
    key = keys()
    async with client().pipeline(transaction=True) as pipe:
        pipe.get(key.counter)
        pipe.get(key.origin)
        pipe.zrange(key.history, 0, 0, withscores=True)
        pipe.zrangebyscore(key.history, f"({since}", "+inf" if until is None else until)
        newest_raw, origin_raw, oldest_rows, rows = await pipe.execute()
    newest = int(newest_raw or 0)
    last = newest if until is None else min(until, newest)
    if since > newest:
        complete = False
    elif since >= last:
        complete = True
    else:
        held_from = since if since or origin_raw is None else int(origin_raw)
        complete = bool(oldest_rows) and int(oldest_rows[0][1]) <= held_from + 1
    events, frames = [], []
    for row in rows:
        frame = row.decode()
        event = json.loads(frame)
        if _wanted(topics, event["type"]):
            events.append(event)
            frames.append(frame)
    return HistoryPage(
        events=events,
        frames=frames,
        complete=complete,
        last_id=max(last, since) if since <= newest else newest,
    )
