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
from collections.abc import Collection
from typing import Any, Protocol

from gamification.app_settings import app_settings
from infrastructure.redis_access import key, redis_async, redis_sync

logger = logging.getLogger(__name__)

DEBOUNCE_S = 0.2  # a burst of connects (a reconnect storm) becomes one Redis write

_instance: tuple[int, str] | None = None


def instance_id() -> str:
    """`host:pid:random` for this process (recomputed after a fork)."""
    global _instance
    if _instance is None or _instance[0] != os.getpid():
        _instance = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    return _instance[1]


def _instance_key(instance: str) -> str:
    return key("gateway", instance)


def _index_key() -> str:
    return key("gateways")


def _forget(instance: str) -> None:
    """At a clean exit, leave the counts at once instead of after the TTL (a crash still waits for it)."""
    try:
        client = redis_sync()
        client.delete(_instance_key(instance))
        client.srem(_index_key(), instance)
    except Exception as exc:  # noqa: BLE001 - exiting anyway; the TTL removes the entry
        logger.debug("gateway stats not removed at exit: %r", exc)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Described(Protocol):
    def describe(self) -> dict[str, Any]:
        """What staff see of this client in `get_stats`."""


class LocalConnections(Protocol):
    """What presence reads of the process's connections (the hub provides it)."""

    changed: asyncio.Event  # set when connections or subscriptions change

    @property
    def connections(self) -> Collection[Described]:
        """The process's open connections."""

    def topic_counts(self) -> dict[str, int]:
        """Connections per topic."""


class Presence:
    """Publishes this process's snapshot and sums everyone's."""

    def __init__(self, *, local: LocalConnections) -> None:
        self.local = local
        self.instance = instance_id()
        # The JSON of the last published client list: a heartbeat with no change since re-sends it
        # (describing and encoding thousands of clients every few seconds was most of an idle
        # gateway's own CPU).
        self._clients_text: str | None = None
        atexit.register(_forget, self.instance)

    def snapshot(self) -> dict[str, Any]:
        return {**self._counts(), "clients": self._clients()}

    def _counts(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "active_connections": len(self.local.connections),
            "topics": self.local.topic_counts(),
            "at": time.time(),
        }

    def _clients(self) -> list[dict[str, Any]]:
        return [{**connection.describe(), "instance": self.instance} for connection in self.local.connections]

    async def publish(self, *, unchanged: bool = False) -> None:
        """Write this process's snapshot; `unchanged`: no connection came, went or changed topics since the last."""
        if not unchanged or self._clients_text is None:
            self._clients_text = json.dumps(self._clients())
        counts = json.dumps(self._counts())
        text = f'{counts[:-1]}, "clients": {self._clients_text}}}'  # the snapshot's JSON, clients spliced in
        async with redis_async().pipeline(transaction=False) as pipe:
            pipe.set(_instance_key(self.instance), text, ex=app_settings.STATS_TTL_S)
            pipe.sadd(_index_key(), self.instance)
            await pipe.execute()

    async def run(self) -> None:
        """Heartbeat forever; a Redis outage only delays the next refresh."""
        unchanged = False
        while True:
            self.local.changed.clear()
            try:
                await self.publish(unchanged=unchanged)
            except Exception as exc:  # noqa: BLE001 - stats are best effort; sockets must not suffer
                logger.warning("gateway stats not published (%r)", exc)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that arrives as
            # the wait completes, and this loop then outlives its event loop's shutdown (a test
            # teardown hung on it, polling every STATS_HEARTBEAT_S).
            try:
                async with asyncio.timeout(app_settings.STATS_HEARTBEAT_S):
                    await self.local.changed.wait()
                await asyncio.sleep(DEBOUNCE_S)
                unchanged = False
            except TimeoutError:
                unchanged = not self.local.changed.is_set()

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
        client = redis_async()
        index = _index_key()
        members = [_text(member) for member in await client.smembers(index)]
        others = sorted(member for member in members if member != self.instance)
        if not others:
            return []
        values = await client.mget([_instance_key(instance) for instance in others])
        gone = [instance for instance, value in zip(others, values, strict=True) if value is None]
        if gone:
            await client.srem(index, *gone)
        return [json.loads(value) for value in values if value is not None]
