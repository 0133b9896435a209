"""Redis clients for the HTTP API (output streams, rate limits, health), apart from the channel layer."""

import os
import threading

import redis
import redis.asyncio
from django.conf import settings

# Short timeouts: a Redis that does not answer must cost a request or a run line little, not stall it.
CONNECT_TIMEOUT_S = 2.0
SOCKET_TIMEOUT_S = 2.0

_lock = threading.Lock()
_clients: dict[int, redis.Redis] = {}


def redis_sync() -> redis.Redis:
    """The process's shared client (per PID: django-q2 forks workers, and a pool must not cross a fork)."""
    pid = os.getpid()
    with _lock:
        if pid not in _clients:
            _clients.clear()
            _clients[pid] = redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S
            )
        return _clients[pid]


def redis_async(*, client_name: str | None = None) -> redis.asyncio.Redis:
    """A new asyncio client for one long-lived reader (an SSE stream); the caller closes it with `aclose()`.

    No socket timeout: the reader blocks in XREAD for its own, shorter, BLOCK time. `client_name`
    shows in Redis' CLIENT LIST, so an operator can see what each connection follows.
    """
    return redis.asyncio.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=CONNECT_TIMEOUT_S, client_name=client_name
    )
