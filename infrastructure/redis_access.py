"""The one way to reach Redis: client factories and the deployment's key names.

Everything the project keeps in Redis besides the channel layer's own messages — event ids and
history, gateway presence, rate limits, run output streams, health — goes through here:
- `key(*parts)`: a key under the deployment's prefix (the channel layer's, `CHANNEL_PREFIX`), so
  deployments and test runs sharing one Redis stay apart;
- `redis_sync()`: the process's blocking client (per PID: django-q2 forks its workers);
- `redis_async()`: the running event loop's shared asyncio client, closed with its loop;
- `redis_async_dedicated()`: a new asyncio client for one long-lived blocking reader (the
  SSE streams' watch, councilors/output_watch.py).

The Redis they reach is the channel layer's host (the settings build it from REDIS_URL,
infrastructure/redis_url.py): one server, or the primary of a Sentinel group. Through Sentinel a
client asks the sentinels where the primary is whenever it (re)connects, so after a failover the
next command — retried once its connection to the old primary fails — reaches the new one.
"""

import asyncio
import json
import os
import threading
import types
import weakref
from typing import Any, cast

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from infrastructure.redis_url import layer_host

# Short timeouts: a Redis that does not answer must cost a request or a run line little, not stall it.
CONNECT_TIMEOUT_S = 2.0
SOCKET_TIMEOUT_S = 2.0
# The event loop's shared client also serves history reads that may wait a little longer.
ASYNC_SOCKET_TIMEOUT_S = 5.0

# The shared asyncio client runs at most this many commands at once; the others wait their turn
# (redis-py's pool raises at once when all its connections are busy: in a storm of thousands of
# connections, each with a Redis call, that failed hundreds of them). Pipelines take a pool
# connection without passing the gate, hence the headroom.
ASYNC_COMMANDS_AT_ONCE = 64
ASYNC_POOL_CONNECTIONS = ASYNC_COMMANDS_AT_ONCE + 36

# What channels-redis itself prefixes with when its config names no prefix.
LAYER_DEFAULT_PREFIX = "asgi"
# The keys of a channels-redis Sentinel host entry that describe the group, not the connection.
_SENTINEL_KEYS = ("master_name", "sentinels", "sentinel_kwargs")

_lock = threading.Lock()
_sync_clients: dict[int, dict[str, redis.Redis]] = {}
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients]" = weakref.WeakKeyDictionary()


def _layer_config() -> dict[str, Any]:
    return cast(dict[str, Any], settings.CHANNEL_LAYERS["default"].get("CONFIG", {}))


def key_prefix() -> str:
    """The deployment's prefix: the channel layer's (`CHANNEL_PREFIX`), so all of one deployment's keys share it."""
    return _layer_config().get("prefix", LAYER_DEFAULT_PREFIX)


def key(*parts: object) -> str:
    """`<prefix>:<part>:<part>…`, e.g. key("gamification", "history")."""
    return ":".join([key_prefix(), *(str(part) for part in parts)])


def redis_host() -> dict[str, Any]:
    """The deployment's Redis as the channel layer's first host names it, so event ids, history and
    presence live on the Redis the events themselves travel through.

    `{"address": url}`, channels-redis's Sentinel form (`master_name`, `sentinels`, …) or
    connection keywords (`host`, `port`); a bare string or (host, port) pair is read as channels-redis reads it.
    """
    hosts = _layer_config().get("hosts") or [layer_host(settings.REDIS_URL)]
    host = hosts[0]
    if isinstance(host, str):
        return {"address": host}
    if isinstance(host, tuple | list):
        return {"host": host[0], "port": host[1]}
    return dict(host)


def _identity(host: dict[str, Any]) -> str:
    """A stable name for a host entry, to keep one client per Redis (tests switch Redis by settings)."""
    return json.dumps(host, sort_keys=True, default=str)


def _is_sentinel(host: dict[str, Any]) -> bool:
    return "master_name" in host


def _connection_kwargs(host: dict[str, Any]) -> dict[str, Any]:
    """The host entry's keywords for connections to the Redis server itself."""
    return {name: value for name, value in host.items() if name not in (*_SENTINEL_KEYS, "address")}


def _sync_client(host: dict[str, Any], *, socket_timeout: float) -> redis.Redis:
    options = {
        **_connection_kwargs(host),
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": socket_timeout,
        **_reconnecting(Retry),
    }
    if _is_sentinel(host):
        sentinel = redis.sentinel.Sentinel(host["sentinels"], sentinel_kwargs=host.get("sentinel_kwargs"))
        return sentinel.master_for(host["master_name"], **options)
    if "address" in host:
        return redis.Redis.from_url(host["address"], **options)
    return redis.Redis(**options)


def redis_sync(*, socket_timeout: float = SOCKET_TIMEOUT_S) -> redis.Redis:
    """The process's shared blocking client (per PID: a connection pool must not cross a fork).

    `socket_timeout`: how long a command may wait for Redis (one client per value: the event
    publisher's is GAMIFICATION_PUBLISH_TIMEOUT_S).
    """
    pid, host = os.getpid(), redis_host()
    identity = f"{_identity(host)} {socket_timeout}"
    with _lock:
        if pid not in _sync_clients:
            _sync_clients.clear()
            _sync_clients[pid] = {}
        clients = _sync_clients[pid]
        if identity not in clients:
            clients[identity] = _sync_client(host, socket_timeout=socket_timeout)
        return clients[identity]


def _reconnecting(retry_class: type[Retry] | type[AsyncRetry] = AsyncRetry) -> dict[str, Any]:
    """Pool options: a command that finds its pooled connection dead is retried on a fresh one.

    After Redis restarts, every pooled connection is stale and fails on first use; without a retry
    the first `resume` answered `history_unavailable` and the first event a worker emitted was lost.
    Only connection errors are retried (the command never reached a live server); a timeout is
    not, since a script may have run (a retry would give one event two ids). Through Sentinel, a
    fresh connection asks the sentinels for the primary first, so the retry follows a failover.
    """
    return {"retry": retry_class(ExponentialBackoff(cap=0.5, base=0.05), 3), "retry_on_error": [RedisConnectionError]}


class QueuedRedis(redis.asyncio.Redis):
    """An asyncio client whose commands wait for one of ASYNC_COMMANDS_AT_ONCE turns, never fail for want of one.

    Callers bound the wait with their own timeouts (`asyncio.wait_for`), as they bound Redis itself.
    """

    _turns: asyncio.Semaphore | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if self._turns is None:
            self._turns = asyncio.Semaphore(ASYNC_COMMANDS_AT_ONCE)
        async with self._turns:
            return await super().execute_command(*args, **options)


class _LoopClients:
    """One event loop's shared clients (one per Redis) and the Sentinel managers they ask."""

    def __init__(self) -> None:
        self.shared: dict[str, redis.asyncio.Redis] = {}
        self.sentinels: dict[str, redis.asyncio.sentinel.Sentinel] = {}

    def sentinel(self, host: dict[str, Any]) -> redis.asyncio.sentinel.Sentinel:
        identity = _identity(host)
        if identity not in self.sentinels:
            self.sentinels[identity] = redis.asyncio.sentinel.Sentinel(
                host["sentinels"], sentinel_kwargs=host.get("sentinel_kwargs")
            )
        return self.sentinels[identity]

    def client(
        self, host: dict[str, Any], *, redis_class: type[redis.asyncio.Redis] = redis.asyncio.Redis, **options: Any
    ) -> redis.asyncio.Redis:
        """A new client of `host` with `options` (through this loop's Sentinel manager for a group)."""
        options = {**_connection_kwargs(host), **options}
        if _is_sentinel(host):
            return self.sentinel(host).master_for(host["master_name"], redis_class=redis_class, **options)
        if "address" in host:
            return redis_class.from_url(host["address"], **options)
        return redis_class(**options)

    async def aclose(self) -> None:
        for client in self.shared.values():
            await client.aclose(close_connection_pool=True)
        for sentinel in self.sentinels.values():
            await sentinel.aclose()


def _loop_clients() -> _LoopClients:
    loop = asyncio.get_running_loop()
    if loop not in _async_clients:
        _async_clients[loop] = _LoopClients()
        _close_with_loop(loop)
    return _async_clients[loop]


def redis_async() -> redis.asyncio.Redis:
    """The running event loop's shared asyncio client (one per Redis: tests change settings)."""
    clients, host = _loop_clients(), redis_host()
    identity = _identity(host)
    if identity not in clients.shared:
        clients.shared[identity] = clients.client(
            host,
            redis_class=QueuedRedis,
            max_connections=ASYNC_POOL_CONNECTIONS,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=ASYNC_SOCKET_TIMEOUT_S,
            **_reconnecting(),
        )
    return clients.shared[identity]


def redis_async_dedicated(*, client_name: str | None = None, **options: Any) -> redis.asyncio.Redis:
    """A new asyncio client for one long-lived blocking reader; the caller closes it with `aclose()`.

    No socket timeout: the reader blocks in XREAD for its own BLOCK time. `client_name` shows in
    Redis' CLIENT LIST, so an operator can see what each connection is for; `options` go to the
    client (e.g. `single_connection_client=True`, to know the connection's CLIENT ID).
    """
    return _loop_clients().client(
        redis_host(), socket_connect_timeout=CONNECT_TIMEOUT_S, client_name=client_name, **options
    )


def _close_with_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close the loop's clients when the loop is closed, while it can still run their close.

    Connections belong to the loop that opened them (channels_redis closes its own the same way);
    left open, a closed loop's connections warn at garbage collection.
    """
    original_close = loop.close

    def close(self: asyncio.AbstractEventLoop) -> None:
        clients = _async_clients.pop(self, None)
        if clients is not None and not self.is_running():
            self.run_until_complete(clients.aclose())
        self.close = original_close  # type: ignore[method-assign]  # this loop's own close again
        original_close()

    loop.close = types.MethodType(close, loop)  # type: ignore[method-assign]  # only this loop's
