"""Presence: this process's snapshot in Redis with a TTL, and `get_stats` totals over every gateway."""

import asyncio
import json
import os
import socket as sockets
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from gamification import presence
from gamification.app_settings import app_settings
from gamification.presence import Presence, instance_id
from infrastructure.redis_access import key
from tests.gamification.ws import TIMEOUT, authed, send
from tests.layer import unreachable_layer

pytestmark = pytest.mark.usefixtures("private_channel_prefix")  # no other test's gateways in the sums


@dataclass(eq=False)
class Connection:
    client_id: str
    topics: list[str] = field(default_factory=lambda: ["all"])

    def describe(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "user": None, "topics": self.topics, "connected_at": 1.0}


@dataclass
class Local:
    """What presence reads of a process's connections (the hub in production)."""

    connections: list[Connection] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def topic_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for connection in self.connections:
            for topic in connection.topics:
                counts[topic] = counts.get(topic, 0) + 1
        return counts


def other_gateway(redis_client, instance: str, *, connections: int, topics: dict[str, int], clients: list) -> None:
    """Another process's heartbeat, as its own Presence would have written it."""
    snapshot = {"instance": instance, "active_connections": connections, "topics": topics, "clients": clients}
    redis_client.set(key("gateway", instance), json.dumps({**snapshot, "at": time.time()}), ex=30)
    redis_client.sadd(key("gateways"), instance)


def test_the_instance_id_is_host_pid_and_a_random_part_stable_within_the_process():
    host, pid, suffix = instance_id().rsplit(":", 2)
    assert (host, pid, len(suffix)) == (sockets.gethostname(), str(os.getpid()), 6)
    assert instance_id() == instance_id()


async def test_the_snapshot_counts_this_process_s_connections_and_tags_clients_with_the_instance():
    local = Local([Connection("a"), Connection("b", ["system_alert"])])
    before = time.time()
    snapshot = Presence(local=local).snapshot()
    assert snapshot["instance"] == instance_id()
    assert snapshot["active_connections"] == 2
    assert snapshot["topics"] == {"all": 1, "system_alert": 1}
    assert [client["client_id"] for client in snapshot["clients"]] == ["a", "b"]
    assert {client["instance"] for client in snapshot["clients"]} == {instance_id()}
    assert before <= snapshot["at"] <= time.time()


async def test_publish_writes_the_snapshot_under_the_gateway_key_with_the_ttl(redis_client):
    own = Presence(local=Local([Connection("a")]))
    await own.publish()
    stored = json.loads(redis_client.get(key("gateway", own.instance)))
    assert {**stored, "at": None} == {**own.snapshot(), "at": None}
    assert 0 < redis_client.ttl(key("gateway", own.instance)) <= app_settings.STATS_TTL_S
    assert redis_client.smembers(key("gateways")) == {own.instance.encode()}


async def test_totals_add_another_gateway_s_snapshot_to_this_one(redis_client):
    own = Presence(local=Local([Connection("a"), Connection("b", ["system_alert"])]))
    theirs = {"client_id": "c", "user": "x", "topics": ["all"], "connected_at": 2.0, "instance": "other:1:abcdef"}
    other_gateway(redis_client, "other:1:abcdef", connections=1, topics={"all": 1}, clients=[theirs])

    totals = await own.totals(include_clients=True)

    assert totals["active_connections"] == 3 and totals["instances"] == 2
    assert totals["topics"] == {"all": 2, "system_alert": 1}
    assert [client["client_id"] for client in totals["clients"]] == ["a", "b", "c"]
    assert "clients" not in await own.totals(include_clients=False)


async def test_this_process_counts_from_memory_not_from_its_own_stale_key(redis_client):
    local = Local([Connection("a")])
    own = Presence(local=local)
    await own.publish()
    local.connections.append(Connection("b"))  # not yet republished
    totals = await own.totals(include_clients=False)
    assert (totals["active_connections"], totals["instances"]) == (2, 1)


async def test_an_instance_whose_key_expired_is_left_out_and_pruned_from_the_index(redis_client):
    redis_client.sadd(key("gateways"), "dead:2:aaaaaa")  # its key expired: the process died
    other_gateway(redis_client, "live:3:bbbbbb", connections=4, topics={"all": 4}, clients=[])
    own = Presence(local=Local())

    totals = await own.totals(include_clients=False)

    assert (totals["active_connections"], totals["instances"]) == (4, 2)
    assert redis_client.smembers(key("gateways")) == {b"live:3:bbbbbb"}


async def test_with_redis_down_the_totals_are_this_process_s_own(settings, tmp_path, caplog):
    settings.CHANNEL_LAYERS = unreachable_layer(tmp_path)
    totals = await Presence(local=Local([Connection("a")])).totals(include_clients=False)
    assert totals == {"active_connections": 1, "instances": 1, "topics": {"all": 1}}
    assert "gateway stats read from this process only" in caplog.text


async def test_the_heartbeat_publishes_at_once_and_again_soon_after_a_change(redis_client, settings):
    settings.GAMIFICATION_STATS_HEARTBEAT_S = 3600  # only a change can cause the second write
    local = Local([Connection("a")])
    own = Presence(local=local)

    def stored_connections() -> int | None:
        raw = redis_client.get(key("gateway", own.instance))
        return json.loads(raw)["active_connections"] if raw else None

    heartbeat = asyncio.create_task(own.run())
    try:
        await until(lambda: stored_connections() == 1)
        local.connections.append(Connection("b"))
        local.changed.set()
        await until(lambda: stored_connections() == 2)
    finally:
        heartbeat.cancel()


async def test_a_heartbeat_without_a_change_re_sends_the_clients_described_before(redis_client, settings):
    settings.GAMIFICATION_STATS_HEARTBEAT_S = 0.05
    described: list[str] = []

    class Counted(Connection):
        def describe(self) -> dict[str, Any]:
            described.append(self.client_id)
            return super().describe()

    local = Local([Counted("a")])
    own = Presence(local=local)

    def stored() -> dict[str, Any] | None:
        raw = redis_client.get(key("gateway", own.instance))
        return json.loads(raw) if raw else None

    heartbeat = asyncio.create_task(own.run())
    try:
        await until(lambda: stored() is not None)
        first_at = stored()["at"]
        await until(lambda: stored()["at"] > first_at)  # a later heartbeat, nothing changed ...
        assert described == ["a"]  # ... described once
        assert {**stored(), "at": None} == {**own.snapshot(), "at": None}
        local.connections.append(Counted("b"))
        local.changed.set()
        await until(lambda: stored()["active_connections"] == 2)
        assert [client["client_id"] for client in stored()["clients"]] == ["a", "b"]
    finally:
        heartbeat.cancel()


async def until(condition, timeout: float = TIMEOUT) -> None:
    """Wait for a condition on Redis, which another task writes (poll: Redis has no change event here)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not true in time"
        await asyncio.sleep(presence.DEBOUNCE_S / 4)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_get_stats_counts_connections_and_topics():
    async with await authed() as first, await authed() as second:
        await send(second, {"command": "subscribe", "topics": ["system_alert"]})
        stats = await send(first, {"command": "get_stats", "request_id": 1})
    assert stats["type"] == "stats"
    assert stats["data"]["active_connections"] == 2
    assert stats["data"]["instances"] >= 1
    assert stats["data"]["topics"] == {"all": 1, "system_alert": 1}
    assert stats["data"]["request_id"] == 1
    assert "clients" not in stats["data"]


@pytest.mark.parametrize("turns", [0, 1, 2, 3, 4])
async def test_the_heartbeat_ends_when_cancelled_as_a_change_wakes_it(redis_client, settings, turns):
    """A cancel that arrives just as a change wakes the wait still ends the task (the loop's shutdown waits for it).

    asyncio.wait_for on Python 3.11 returned the wait's result instead of the cancel in that window,
    and the heartbeat went on forever: a test's event loop then hung closing.
    """
    settings.GAMIFICATION_STATS_HEARTBEAT_S = 3600
    local = Local([Connection("a")])
    own = Presence(local=local)
    heartbeat = asyncio.create_task(own.run())
    await until(lambda: redis_client.get(key("gateway", own.instance)) is not None)
    local.changed.set()
    for _ in range(turns):  # let the wake-up travel part of the way, then cancel
        await asyncio.sleep(0)
    heartbeat.cancel()
    done, _ = await asyncio.wait({heartbeat}, timeout=TIMEOUT)
    assert heartbeat in done and heartbeat.cancelled()
