"""Every Redis client the project builds reaches the deployment's Redis: one server, or a Sentinel group's primary."""

import asyncio

import pytest
import redis.asyncio
import redis.exceptions

from gamification.events import aemit
from gamification.fastpath import channels_redis
from infrastructure.redis_access import (
    ASYNC_POOL_CONNECTIONS,
    key,
    redis_async,
    redis_async_dedicated,
    redis_host,
    redis_sync,
)
from tests.faults.servers import SentinelGroup, point_settings_at
from tests.layer import group_listener


@pytest.fixture
def sentinel_group(tmp_path, settings):
    """A primary with one sentinel, named by REDIS_URL as the settings would have it."""
    group = SentinelGroup(tmp_path, replicas=0, sentinels=1)
    group.start()
    point_settings_at(group, settings)
    yield group
    group.stop()


def test_the_redis_is_the_channel_layer_s_first_host(settings):
    layer = settings.CHANNEL_LAYERS["default"]
    for given, expected in [
        ("redis://h:1/0", {"address": "redis://h:1/0"}),
        (("h", 1), {"host": "h", "port": 1}),
        ({"address": "unix:///r.sock"}, {"address": "unix:///r.sock"}),
    ]:
        settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [given]}}}
        assert redis_host() == expected


def test_the_blocking_client_writes_to_the_primary_the_sentinels_name(sentinel_group):
    redis_sync().set(key("probe"), "through sentinel")
    with sentinel_group.client(sentinel_group.primary_port) as primary:
        assert primary.get(key("probe")) == b"through sentinel"


async def test_the_loop_s_clients_reach_the_primary_the_sentinels_name(sentinel_group):
    with sentinel_group.client(sentinel_group.primary_port) as primary:
        primary.set(key("probe"), "written directly")
        assert await redis_async().get(key("probe")) == b"written directly"
        reader = redis_async_dedicated(client_name="sentinel-probe")
        try:
            assert await reader.ping()
            assert "sentinel-probe" in [client["name"] for client in primary.client_list()]
        finally:
            await reader.aclose()


@pytest.mark.django_db(transaction=True)
async def test_events_are_published_by_the_history_script_on_a_sentinel_group_s_primary(sentinel_group):
    layer, channel = await group_listener()
    capability = channels_redis.check(layer)
    assert capability.available is True and "Sentinel" in capability.reason
    sent = await aemit("system_alert", {"level": "info", "message": "via sentinel", "source": "tests"})
    received = (await asyncio.wait_for(layer.receive(channel), timeout=5))["envelope"]
    assert received == sent and sent["id"] is not None


# Many commands at once ----------------------------------------------------------------------------

SLOW_GET = "redis.call('GET', KEYS[1]); return 1"


async def _many_at_once(client, count: int) -> list:
    return await asyncio.gather(*(client.eval(SLOW_GET, 1, key("storm")) for _ in range(count)), return_exceptions=True)


async def test_the_shared_client_s_commands_wait_for_a_turn_instead_of_failing_in_a_storm():
    results = await _many_at_once(redis_async(), ASYNC_POOL_CONNECTIONS * 5)
    assert results == [1] * (ASYNC_POOL_CONNECTIONS * 5)


async def test_without_turns_a_pool_of_that_size_fails_commands_in_a_storm():
    """What the turns prevent (redis-py raises at once when every pooled connection is busy)."""
    plain = redis.asyncio.Redis.from_url(redis_host()["address"], max_connections=ASYNC_POOL_CONNECTIONS)
    try:
        results = await _many_at_once(plain, ASYNC_POOL_CONNECTIONS * 5)
    finally:
        await plain.aclose(close_connection_pool=True)
    assert any(isinstance(result, redis.exceptions.ConnectionError) for result in results)
