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
