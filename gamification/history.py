"""Event ids and the bounded event history (docs/protocol.md, "Event ids and resume"), kept in Redis.

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

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NamedTuple

from gamification.app_settings import app_settings
from gamification.catalogue import ALL_TOPICS
from infrastructure.redis_access import key, redis_async

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


class Keys(NamedTuple):
    counter: str  # the newest id assigned
    history: str  # the sorted set of kept envelopes
    origin: str  # where the counter (re)started: ids at or below it belong to no kept history


def keys() -> Keys:
    """The history's Redis keys (under the deployment's prefix)."""
    return Keys(key("gamification", "event_id"), key("gamification", "history"), key("gamification", "event_id_origin"))


def json_head(envelope: dict[str, Any]) -> str:
    """The envelope's JSON cut just before the id's value (the script appends the id).

    The envelope was built with `id` None as its very last key, so appending the id completes it.
    """
    if envelope.get("id") is not None or next(reversed(envelope)) != "id":
        raise ValueError("the envelope must end with an unassigned id")
    return encode_frame(envelope)[: -len(_JSON_ID_TAIL)]


async def history_append(*, envelope: dict[str, Any], message_head: bytes = b"", channel: str = "") -> int:
    """Assign the envelope its id and store it; with a `channel`, also PUBLISH `message_head` + the id there.

    `message_head` is the channel layer's message for the envelope, cut before the id's value
    (gamification/fastpath/channels_redis.py), so the script publishes exactly what `group_send` would.
    """
    event_id = await redis_async().eval(
        _APPEND_LUA,
        3,
        *keys(),
        json_head(envelope),
        message_head if channel else b"",
        app_settings.HISTORY_SIZE,
        app_settings.HISTORY_TTL_S,
        channel,
    )
    return int(event_id)


async def newest_id() -> int:
    """The newest id assigned in the deployment (0 before the first event)."""
    raw = await redis_async().get(keys().counter)
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
    async with redis_async().pipeline(transaction=True) as pipe:
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
