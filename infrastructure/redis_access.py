"""The one way to reach Redis: client factories and the deployment's key names.

Everything the project keeps in Redis besides the channel layer's own messages — event ids and
history, gateway presence, rate limits, run output streams, health — goes through here:
- `key(*parts)`: a key under the deployment's prefix (the channel layer's, `CHANNEL_PREFIX`), so
  deployments and test runs sharing one Redis stay apart;
- `redis_sync()`: the process's blocking client (per PID: django-q2 forks its workers);
- `redis_async()`: the running event loop's shared asyncio client, closed with its loop;
- `redis_async_dedicated()`: a new asyncio client for one long-lived blocking reader (SSE).
"""

import asyncio
import os
import threading
import types
import weakref
from typing import Any

import redis
import redis.asyncio
from django.conf import settings
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

# Short timeouts: a Redis that does not answer must cost a request or a run line little, not stall it.
CONNECT_TIMEOUT_S = 2.0
SOCKET_TIMEOUT_S = 2.0
# The event loop's shared client also serves history reads that may wait a little longer.
ASYNC_SOCKET_TIMEOUT_S = 5.0

# What channels-redis itself prefixes with when its config names no prefix.
LAYER_DEFAULT_PREFIX = "asgi"

_lock = threading.Lock()
_sync_clients: dict[int, redis.Redis] = {}
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, redis.asyncio.Redis]]" = (
    weakref.WeakKeyDictionary()
)


def _layer_config() -> dict[str, Any]:
    return settings.CHANNEL_LAYERS["default"].get("CONFIG", {})


def key_prefix() -> str:
    """The deployment's prefix: the channel layer's (`CHANNEL_PREFIX`), so all of one deployment's keys share it."""
    return _layer_config().get("prefix", LAYER_DEFAULT_PREFIX)


def key(*parts: object) -> str:
    """`<prefix>:<part>:<part>…`, e.g. key("gamification", "history")."""
    return ":".join([key_prefix(), *(str(part) for part in parts)])


def redis_url() -> str:
    """The deployment's Redis: the channel layer's (the settings build it from REDIS_URL), so event
    ids, history and presence live on the Redis the events themselves travel through."""
    hosts = _layer_config().get("hosts") or [settings.REDIS_URL]
    host = hosts[0]
    return host["address"] if isinstance(host, dict) else host


def redis_sync() -> redis.Redis:
    """The process's shared blocking client (per PID: a connection pool must not cross a fork)."""
    pid = os.getpid()
    with _lock:
        if pid not in _sync_clients:
            _sync_clients.clear()
            _sync_clients[pid] = redis.Redis.from_url(
                redis_url(), socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S
            )
        return _sync_clients[pid]


def _reconnecting() -> dict[str, Any]:
    """Pool options: a command that finds its pooled connection dead is retried on a fresh one.

    After Redis restarts, every pooled connection is stale and fails on first use; without a retry
    the first `resume` answered `history_unavailable` and the first event a worker emitted was lost.
    Only connection errors are retried (the command never reached a live server); a timeout is
    not, since a script may have run (a retry would give one event two ids).
    """
    return {"retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 3), "retry_on_error": [RedisConnectionError]}


def redis_async() -> redis.asyncio.Redis:
    """The running event loop's shared asyncio client (keyed by URL: tests change settings)."""
    loop = asyncio.get_running_loop()
    if loop not in _async_clients:
        _async_clients[loop] = {}
        _close_with_loop(loop)
    clients = _async_clients[loop]
    url = redis_url()
    if url not in clients:
        clients[url] = redis.asyncio.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=ASYNC_SOCKET_TIMEOUT_S,
            **_reconnecting(),
        )
    return clients[url]


def redis_async_dedicated(*, client_name: str | None = None) -> redis.asyncio.Redis:
    """A new asyncio client for one long-lived reader (an SSE stream); the caller closes it with `aclose()`.

    No socket timeout: the reader blocks in XREAD for its own, shorter, BLOCK time. `client_name`
    shows in Redis' CLIENT LIST, so an operator can see what each connection follows.
    """
    return redis.asyncio.Redis.from_url(redis_url(), socket_connect_timeout=CONNECT_TIMEOUT_S, client_name=client_name)


def _close_with_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close the loop's clients when the loop is closed, while it can still run their close.

    Connections belong to the loop that opened them (channels_redis closes its own the same way);
    left open, a closed loop's connections warn at garbage collection.
    """
    original_close = loop.close

    def close(self: asyncio.AbstractEventLoop) -> None:
        clients = _async_clients.pop(self, {})
        if not self.is_running():
            for client in clients.values():
                self.run_until_complete(client.aclose(close_connection_pool=True))
        self.close = original_close
        original_close()

    loop.close = types.MethodType(close, loop)
