"""Shared fixtures. Redis is real: the test settings start a private embedded one unless REDIS_URL is set."""

import uuid

import pytest
import redis
from django.conf import settings

from tests.factories import make_agent, make_councilor


@pytest.fixture
def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def agent(db):
    return make_agent()


@pytest.fixture
def councilor(db):
    return make_councilor()


@pytest.fixture(scope="session", autouse=True)
def _close_async_thread_connections(django_db_setup):
    """Async tests reach the database from asgiref's worker thread; close its connection before
    the test database is dropped (PostgreSQL refuses to drop a database that is still in use)."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def private_channel_prefix(settings) -> str:
    """A channel-layer prefix of this test's own, for this process and the processes it starts.

    Gateways a test kills (or that linger) leave their presence and history keys under the prefix
    they used; with their own prefix they never show up in another test's `get_stats` or history.
    """
    layer = settings.CHANNEL_LAYERS["default"]
    prefix = f"{layer['CONFIG']['prefix']}-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "prefix": prefix}}}
    return prefix
