"""Fixtures of the gateway's tests."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from gamification import history


@pytest.fixture
async def close_thread_connections():
    """Close the connections sync_to_async threads opened, or Postgres cannot drop the test database."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def fresh_history(redis_client):
    """Start from no counter and no history, as a brand-new deployment (or a Redis that lost its data)."""
    redis_client.delete(*history.keys())
    yield
    redis_client.delete(*history.keys())


@pytest.fixture
def promote_replica(redis_client):
    """Make this Redis look like a replica just promoted after holding the events up to `kept_through`.

    A promoted replica has the counter and history as replicated (the later writes of the old
    primary are missing) and a new replication id, so the counter's epoch no longer matches. The
    real failover, with Sentinel and a killed primary, is tests/faults/test_redis_failover.py.
    """

    def promote(*, kept_through: int) -> None:
        keys = history.keys()
        redis_client.set(keys.counter, kept_through)
        redis_client.zremrangebyscore(keys.history, f"({kept_through}", "+inf")
        redis_client.set(keys.epoch, "the-old-primary")

    return promote
