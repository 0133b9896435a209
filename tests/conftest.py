"""Shared fixtures. Redis is real: a private embedded one (started here) unless REDIS_URL is set."""

import uuid

import pytest
import redis
from django.conf import settings
from django.db import OperationalError
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils import translation

from tests.factories import make_agent, make_councilor

# Checks every frame the tests read from the gateway against the AsyncAPI document.
pytest_plugins = ["tests.asyncapi_check"]


def pytest_configure(config: pytest.Config) -> None:
    """Start the private Redis the test settings point at (none when REDIS_URL names one)."""
    if getattr(settings, "TEST_EMBEDDED_REDIS_SOCKET", None):
        from devserver.embedded_redis import start_private_server

        start_private_server(socket_path=settings.TEST_EMBEDDED_REDIS_SOCKET)


@pytest.fixture(autouse=True)
def _site_language():
    """Each test starts in the site's language: a request that asked for Portuguese leaves it active
    in the thread (LocaleMiddleware activates a language and nothing resets it after the response)."""
    yield
    translation.deactivate()


DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE
FLUSH_ATTEMPTS = 5


@pytest.fixture(scope="session", autouse=True)
def _flush_retried_after_a_deadlock():
    """A transactional test's flush truncates every table in one statement; on PostgreSQL it can
    deadlock with a live worker's or gateway's COMMIT checking a foreign key, and PostgreSQL may
    choose the flush as the victim (seen in CI after a test's runs had ended: the worker's last
    commit). The other side then commits, and truncating again succeeds; the failed attempt rolled
    back whole (Django runs the flush in one transaction)."""
    flush = BaseDatabaseOperations.execute_sql_flush

    def flush_retrying(ops, sql_list):
        for attempt in range(1, FLUSH_ATTEMPTS + 1):
            try:
                return flush(ops, sql_list)
            except OperationalError as exc:
                if getattr(exc.__cause__, "sqlstate", None) != DEADLOCK_DETECTED or attempt == FLUSH_ATTEMPTS:
                    raise

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseDatabaseOperations, "execute_sql_flush", flush_retrying)
        yield


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
def _close_async_thread_connections(django_db_setup, django_db_blocker):
    """Async tests reach the database from asgiref's worker thread; close its connection before
    the test database is dropped (PostgreSQL refuses to drop a database that is still in use)."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connection, connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
    if connection.vendor == "postgresql":
        # Anything else still connected (a process a test started that is still exiting, a thread's
        # connection nobody closed) would make the drop fail and leave the database behind.
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()


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
