"""At most GAMIFICATION_WS_MAX_PER_USER open sockets per user over the whole deployment.

docs/protocol.md, "Connections per user". Each open socket of a user holds a lease in Redis: a
member `<instance>/<client_id>` of the sorted set `<prefix>:ws-user:<user id>`, scored with the
Redis time (ms) at which the lease runs out. Taking a lease is one Lua script (sent by its hash) — drop the expired
leases, count the others, add this one if there is room — so two gateways cannot both hand out the
last slot. Closing the socket removes its lease, each process renews its own every RENEW_S, and a
clean exit removes them all; a gateway that dies without its exit handler (a kill -9, a lost
machine) holds its users' slots until the leases run out (LEASE_S). With Redis unreachable the
limit counts this process's sockets only: sockets are not refused because Redis is down.
"""

import asyncio
import atexit
import logging

from gamification.app_settings import app_settings
from gamification.presence import instance_id
from infrastructure.redis_access import key, redis_async, redis_sync
from infrastructure.redis_scripts import LuaScript

logger = logging.getLogger(__name__)

RENEW_S = 10.0  # how often a process renews its sockets' leases
LEASE_S = 30.0  # how long a lease outlives its last renewal: a dead gateway's sockets stop counting after this
REDIS_TIMEOUT_S = 2.0  # a connect or a close waits no longer than this for Redis

# KEYS[1] the user's set; ARGV: member, limit, lease (ms). Returns 1 (taken) or 0 (the user is at the limit).
_ACQUIRE = LuaScript("""
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
""")

# KEYS[1] the user's set; ARGV: lease (ms), then the members to renew.
_RENEW_LUA = """
local now = redis.call('TIME')
local until_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], until_ms, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return #ARGV - 1
"""


def _user_key(user_id: int) -> str:
    """The socket leases' set of one user (UserSockets.KEY)."""
    return key(UserSockets.KEY, user_id)


def _member(client_id: str) -> str:
    return f"{instance_id()}/{client_id}"


class UserSockets:
    """This process's sockets per user, and their leases in Redis.

    A subclass counts another kind of long-lived connection the same way, with its own key and
    limit (councilors/sse_limit.py: SSE streams).
    """

    KEY = "ws-user"  # the sets are `<prefix>:<KEY>:<user id>`

    def limit(self) -> int:
        """The most a user may hold at once (0 or less: no limit)."""
        return app_settings.WS_MAX_PER_USER

    def _key(self, user_id: int) -> str:
        return key(self.KEY, user_id)

    def __init__(self) -> None:
        self._held: dict[int, set[str]] = {}  # user id → lease members of this process
        atexit.register(self._forget)

    async def acquire(self, *, user_id: int, client_id: str) -> bool:
        """Take a slot for this socket; False when the user already has the maximum open."""
        limit = self.limit()
        if limit <= 0:
            return True
        member = _member(client_id)
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S):  # no task of its own, unlike `wait_for`: one per connection
                taken = await _ACQUIRE.run(redis_async(), 1, self._key(user_id), member, limit, int(LEASE_S * 1000))
        except Exception as exc:  # noqa: BLE001 - Redis down: count this process's sockets instead
            logger.warning("per-user socket count unavailable (%r); counting this process only", exc)
            taken = len(self._held.get(user_id, ())) < limit
        if taken:
            self._held.setdefault(user_id, set()).add(member)
        return bool(taken)

    async def release(self, *, user_id: int, client_id: str) -> None:
        """Give the socket's slot back (its lease runs out anyway if Redis does not answer)."""
        member = _member(client_id)
        members = self._held.get(user_id)
        if members is None or member not in members:
            return
        members.discard(member)
        if not members:
            del self._held[user_id]
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S):
                await redis_async().zrem(self._key(user_id), member)
        except Exception as exc:  # noqa: BLE001 - the lease expires on its own
            logger.warning("socket lease of user %s not released (%r); it expires in %ss", user_id, exc, LEASE_S)

    async def renew(self) -> None:
        """Extend the leases of every socket of this process (also re-adds them after Redis lost them)."""
        held = {user_id: sorted(members) for user_id, members in self._held.items() if members}
        if not held:
            return
        async with redis_async().pipeline(transaction=False) as pipe:
            for user_id, members in held.items():
                pipe.eval(_RENEW_LUA, 1, self._key(user_id), int(LEASE_S * 1000), *members)
            await pipe.execute()
        # A socket that closed while the renewal was on its way was just added back: remove it again.
        released = {
            user_id: gone
            for user_id, members in held.items()
            if (gone := [member for member in members if member not in self._held.get(user_id, ())])
        }
        if released:
            async with redis_async().pipeline(transaction=False) as pipe:
                for user_id, members in released.items():
                    pipe.zrem(self._key(user_id), *members)
                await pipe.execute()

    async def run(self) -> None:
        """Renew forever; a Redis outage only delays the next renewal."""
        while True:
            await asyncio.sleep(RENEW_S)
            try:
                await self.renew()
            except Exception as exc:  # noqa: BLE001 - leases last LEASE_S; the next renewal may succeed
                logger.warning("socket leases not renewed (%r)", exc)

    def _forget(self) -> None:
        """At a clean exit, give every slot back at once instead of after LEASE_S."""
        if not self._held:
            return
        try:
            with redis_sync().pipeline(transaction=False) as pipe:
                for user_id, members in self._held.items():
                    pipe.zrem(self._key(user_id), *members)
                pipe.execute()
        except Exception as exc:  # noqa: BLE001 - exiting anyway; the leases expire
            logger.debug("socket leases not removed at exit: %r", exc)
