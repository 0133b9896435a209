"""Deployment-wide connection counts for `get_stats`: a heartbeat per gateway process in Redis.

Each process writes a JSON snapshot of its connections to `<prefix>:gateway:<instance>` with a
TTL (GAMIFICATION_STATS_TTL_S) and refreshes it every GAMIFICATION_STATS_HEARTBEAT_S, and soon
after its connections change. A process that dies stops refreshing, its key expires and it drops
out of the sums. `<prefix>:gateways` indexes the instance ids so readers need no SCAN; ids whose
key has expired are pruned from it when read.
"""

import asyncio
import atexit
import json
import logging
import os
import socket
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

import redis.asyncio as redis
from django.conf import settings

from gamification.app_settings import app_settings

if TYPE_CHECKING:
    from gamification.hub import Hub

logger = logging.getLogger(__name__)

DEBOUNCE_S = 0.2  # a burst of connects (a reconnect storm) becomes one Redis write

_instance: tuple[int, str] | None = None


def instance_id() -> str:
    """`host:pid:random` for this process (recomputed after a fork)."""
    global _instance
    if _instance is None or _instance[0] != os.getpid():
        _instance = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    return _instance[1]


def _prefix() -> str:
    # The channel layer's prefix separates deployments (and test runs) sharing one Redis.
    return settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "conductor")


def _key(instance: str) -> str:
    return f"{_prefix()}:gateway:{instance}"


def _forget(instance: str) -> None:
    """At a clean exit, leave the counts at once instead of after the TTL (a crash still waits for it)."""
    import redis as sync_redis

    try:
        client = sync_redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        client.delete(_key(instance))
        client.srem(f"{_prefix()}:gateways", instance)
        client.close()
    except Exception as exc:  # noqa: BLE001 - exiting anyway; the TTL removes the entry
        logger.debug("gateway stats not removed at exit: %r", exc)


class Presence:
    """Publishes this process's snapshot and sums everyone's."""

    def __init__(self, *, hub: "Hub") -> None:
        self.hub = hub
        self.instance = instance_id()
        self.redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
        atexit.register(_forget, self.instance)

    def snapshot(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "active_connections": len(self.hub.connections),
            "topics": self.hub.topic_counts(),
            "clients": [{**subscriber.describe(), "instance": self.instance} for subscriber in self.hub.connections],
            "at": time.time(),
        }

    async def publish(self) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(_key(self.instance), json.dumps(self.snapshot()), ex=app_settings.STATS_TTL_S)
            pipe.sadd(f"{_prefix()}:gateways", self.instance)
            await pipe.execute()

    async def run(self) -> None:
        """Heartbeat forever; a Redis outage only delays the next refresh."""
        while True:
            self.hub.changed.clear()
            try:
                await self.publish()
            except Exception as exc:  # noqa: BLE001 - stats are best effort; sockets must not suffer
                logger.warning("gateway stats not published (%r)", exc)
            try:
                await asyncio.wait_for(self.hub.changed.wait(), timeout=app_settings.STATS_HEARTBEAT_S)
                await asyncio.sleep(DEBOUNCE_S)
            except TimeoutError:
                pass

    async def totals(self, *, include_clients: bool) -> dict[str, Any]:
        """Sums over every live gateway process; this process counts from memory, not from Redis."""
        snapshots = [self.snapshot()]
        try:
            snapshots += await self._others()
        except Exception as exc:  # noqa: BLE001 - Redis down: answer with what this process knows
            logger.warning("gateway stats read from this process only (%r)", exc)
        topics: Counter[str] = Counter()
        for snap in snapshots:
            topics.update(snap["topics"])
        totals: dict[str, Any] = {
            "active_connections": sum(snap["active_connections"] for snap in snapshots),
            "instances": len(snapshots),
            "topics": dict(topics),
        }
        if include_clients:
            totals["clients"] = [client for snap in snapshots for client in snap["clients"]]
        return totals

    async def _others(self) -> list[dict[str, Any]]:
        index = f"{_prefix()}:gateways"
        others = sorted(
            member.decode() for member in await self.redis.smembers(index) if member.decode() != self.instance
        )
        if not others:
            return []
        values = await self.redis.mget([_key(instance) for instance in others])
        gone = [instance for instance, value in zip(others, values, strict=True) if value is None]
        if gone:
            await self.redis.srem(index, *gone)
        return [json.loads(value) for value in values if value is not None]
