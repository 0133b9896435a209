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

A failover (a replica promoted by Sentinel, docs/deployment.md) keeps the counter but may lose the
last events of the old primary: replication is asynchronous, so ids the old primary assigned (and
published: clients saw them) after its last replicated write are missing from the new one, which
would hand them out again. The script notices the new primary by its replication id (INFO
replication: a promoted replica takes a new one) and skips the counter ahead to the server's
clock, recording the skipped range as the `gap`. Which ids of the gap were really assigned only
those who saw them know: a gateway whose hub dispatched such an id says so (`seen`), and the
highest is kept as `lost`. A `resume` from before it answers `complete: false` (reload state);
one from at or after it is complete, since nothing it missed was lost.
"""

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from gamification.app_settings import app_settings
from gamification.catalogue import ALL_TOPICS, PRIVATE_TYPES
from infrastructure.redis_access import key_prefix, redis_async, redis_sync
from infrastructure.redis_scripts import LuaScript

# KEYS: counter, history, origin, epoch, gap. ARGV: max events, ttl seconds, channel ('' = no publish),
# then for each event, in order, its JSON head and its message head; returns their ids. The heads are
# the envelope's JSON and the layer's msgpack message serialized with `id` last and its value cut off;
# the script appends the id to both (`json_head`, and `message_head` in gamification/fastpath/channels_redis.py).
# Several events in one call are one round trip (a run's finish announces two).
# `epoch` is the replication id of the primary that last wrote the counter; INFO is called with
# pcall so that a Redis that refuses it to scripts still assigns ids (without failover detection).
_APPEND = LuaScript("""
local info = redis.pcall('INFO', 'replication')
local epoch = type(info) == 'string' and string.match(info, 'master_replid:(%w+)') or ''
local counter = redis.call('GET', KEYS[1])
local written_under = redis.call('GET', KEYS[4])
if not counter then
  local now = redis.call('TIME')
  local origin = string.format('%d', now[1] * 1000000 + now[2])
  redis.call('SET', KEYS[1], origin)
  redis.call('SET', KEYS[3], origin)
elseif written_under and written_under ~= epoch then
  local now = redis.call('TIME')
  local restart = string.format('%d', math.max(tonumber(counter), now[1] * 1000000 + now[2]))
  redis.call('HSET', KEYS[5], 'from', counter, 'to', restart)
  redis.call('SET', KEYS[1], restart)
end
if written_under ~= epoch then
  redis.call('SET', KEYS[4], epoch)
end
local size, ttl, channel = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local ids = {}
for i = 4, #ARGV, 2 do
  local id = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], id, ARGV[i] .. string.format('%d', id) .. '}')
  if channel ~= '' then
    redis.call('PUBLISH', channel, ARGV[i + 1] .. cmsgpack.pack(id))
  end
  ids[#ids + 1] = id
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(size + 1))
redis.call('EXPIRE', KEYS[2], ttl)
return ids
""")  # run by its hash: sending the script's text with every event was most of a client's work per event

# KEYS: counter, history, origin, gap, lost. ARGV: since, until ('' = the newest), seen ('0' = none).
# Returns the newest id, the origin, the highest lost id, the oldest kept id and the rows after
# `since`. A `seen` id this Redis does not hold (beyond its newest, or inside the failover gap) was
# assigned by a previous primary and lost: it raises `lost`. Numbers stay strings (Lua's own would
# print big ids in exponent form).
_SINCE_LUA = """
local newest = redis.call('GET', KEYS[1]) or '0'
local lost = redis.call('GET', KEYS[5]) or '0'
local seen = tonumber(ARGV[3])
if seen > tonumber(lost) then
  local gap = redis.call('HMGET', KEYS[4], 'from', 'to')
  local in_gap = gap[1] and seen > tonumber(gap[1]) and seen <= tonumber(gap[2])
  if seen > tonumber(newest) or in_gap then
    lost = ARGV[3]
    redis.call('SET', KEYS[5], lost)
  end
end
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local upper = ARGV[2] == '' and '+inf' or ARGV[2]
local rows = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], upper)
return {newest, redis.call('GET', KEYS[3]) or '', lost, oldest[2] or '', rows}
"""

_JSON_ID_TAIL = "null}"
# Stored with an event that has private details, just before its id: who asked for the run
# ({"requester": <user pk or null>}). Taken out again when the event is read (gamification/shapes.py).
AUDIENCE_KEY = "audience"


def encode_frame(envelope: dict[str, Any]) -> str:
    """The WebSocket text of an envelope (the hub sends live events in the same encoding)."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class HistoryPage:
    """Events with since < id <= last_id of the requested topics, oldest first."""

    events: list[dict[str, Any]]  # the envelopes in full (their private details included)
    frames: list[str]  # the same envelopes encoded: ready to send on a WebSocket to whoever may see them all
    requesters: list[int | None]  # per event: who asked for its run (None: nobody, or no private details)
    complete: bool  # False: some events after `since` are no longer kept; reload state instead
    last_id: int  # the newest id the answer covers; ask from here next time


class Keys(NamedTuple):
    counter: str  # the newest id assigned
    history: str  # the sorted set of kept envelopes
    origin: str  # where the counter (re)started: ids at or below it belong to no kept history
    epoch: str  # the replication id of the primary that last wrote the counter
    gap: str  # the ids skipped at the last failover: `from` (exclusive) .. `to`
    lost: str  # the highest id a gateway saw that this Redis does not hold


def keys() -> Keys:
    """The history's Redis keys (under the deployment's prefix)."""
    return _keys_under(key_prefix())


@cache  # every event reads them: built once per prefix (tests change the prefix)
def _keys_under(prefix: str) -> Keys:
    return Keys(
        *(
            ":".join((prefix, "gamification", name))
            for name in ("event_id", "history", "event_id_origin", "event_id_epoch", "event_id_gap", "event_id_lost")
        )
    )


def json_head(envelope: dict[str, Any], *, requester: int | None = None) -> str:
    """The stored JSON of the envelope cut just before the id's value (the script appends the id).

    The envelope was built with `id` None as its very last key, so appending the id completes it.
    An event with private details keeps its requester beside it (AUDIENCE_KEY), before the id.
    """
    if envelope.get("id") is not None or next(reversed(envelope)) != "id":
        raise ValueError("the envelope must end with an unassigned id")
    stored = envelope
    if envelope["type"] in PRIVATE_TYPES:
        stored = {name: value for name, value in envelope.items() if name != "id"}
        stored |= {AUDIENCE_KEY: {"requester": requester}, "id": None}
    return encode_frame(stored)[: -len(_JSON_ID_TAIL)]


# One event to append: its envelope, who asked for its run (or None), and its layer message's head.
Append = tuple[dict[str, Any], int | None, bytes]


def _append_args(appends: Sequence[Append], channel: str) -> list[Any]:
    """The append script's key count, keys and arguments (EVALSHA's, after the script's hash)."""
    key = keys()
    args = [5, key.counter, key.history, key.origin, key.epoch, key.gap]
    args += [app_settings.HISTORY_SIZE, app_settings.HISTORY_TTL_S, channel]
    for envelope, requester, message_head in appends:
        args += [json_head(envelope, requester=requester), message_head if channel else b""]
    return args


async def history_append(
    *, envelope: dict[str, Any], requester: int | None = None, message_head: bytes = b"", channel: str = ""
) -> int:
    """Assign the envelope its id and store it; with a `channel`, also PUBLISH `message_head` + the id there.

    `message_head` is the channel layer's message for the envelope, cut before the id's value
    (gamification/fastpath/channels_redis.py), so the script publishes exactly what `group_send` would.
    """
    (assigned,) = await _APPEND.run(redis_async(), *_append_args([(envelope, requester, message_head)], channel))
    return int(assigned)


def history_append_all_blocking(appends: Sequence[Append], *, channel: str = "") -> list[int]:
    """`history_append` from sync code for several events at once, in order, in one script call on the
    process's blocking client: all of them stored (and published) with consecutive ids, or none. Raises
    when Redis does not answer within GAMIFICATION_PUBLISH_TIMEOUT_S."""
    client = redis_sync(socket_timeout=app_settings.PUBLISH_TIMEOUT_S)
    return [int(assigned) for assigned in _APPEND.run_blocking(client, *_append_args(appends, channel))]


async def newest_id() -> int:
    """The newest id assigned in the deployment (0 before the first event)."""
    raw = await redis_async().get(keys().counter)
    return int(raw or 0)


def _wanted(topics: Collection[str], event_type: str) -> bool:
    return ALL_TOPICS in topics or event_type in topics


async def history_since(
    *, since: int, topics: Collection[str], until: int | None = None, seen: int | None = None
) -> HistoryPage:
    """The kept events with since < id <= until (the newest by default) whose type is in `topics`.

    `complete` is False when events after `since` were already trimmed, when `since` is newer
    than any id this deployment assigned (an id from a Redis that lost its data), or when some
    event after `since` was lost in a failover. `since` 0 means "from the start" (a client whose
    `connected.last_id` was 0): complete while the history still holds the counter's first event.
    `seen` is the newest id the calling gateway's hub dispatched (trusted, unlike a client's
    `since`): if this Redis does not hold it, it is recorded as lost.
    """
    key = keys()
    newest_raw, origin_raw, lost_raw, oldest_raw, rows = await redis_async().eval(
        _SINCE_LUA,
        5,
        key.counter,
        key.history,
        key.origin,
        key.gap,
        key.lost,
        since,
        "" if until is None else until,
        seen or 0,
    )
    newest, lost = int(newest_raw), int(lost_raw)
    last = newest if until is None else min(until, newest)
    if since > newest or since < lost:
        complete = False
    elif since >= last:
        complete = True
    else:
        held_from = since if since or not origin_raw else int(origin_raw)
        complete = bool(oldest_raw) and int(float(oldest_raw)) <= held_from + 1
    events, frames, requesters = [], [], []
    for row in rows:
        frame = row.decode()
        event = json.loads(frame)
        if not _wanted(topics, event["type"]):
            continue
        audience = event.pop(AUDIENCE_KEY, None)
        events.append(event)
        frames.append(frame if audience is None else encode_frame(event))
        requesters.append(audience.get("requester") if isinstance(audience, dict) else None)
    return HistoryPage(
        events=events,
        frames=frames,
        requesters=requesters,
        complete=complete,
        last_id=max(last, since) if since <= newest else newest,
    )
