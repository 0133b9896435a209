"""Shared fixtures. Redis is real: the test settings start a private embedded one unless REDIS_URL is set."""

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


@pytest.fixture(autouse=True)
def close_async_orm_connections():
    """Async tests reach the database through asgiref's shared thread, whose connection outlives the
    test; close it so that PostgreSQL can drop the test database at the end of the run."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
