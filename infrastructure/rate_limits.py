"""Per-user rate limits counted in Redis, so that a limit holds across every gateway process.

The `execute` limit (API_EXECUTE_RATE_LIMIT per API_EXECUTE_RATE_WINDOW_S) counts the API's
`execute` and the admin's "Run now" of an agent in one bucket per user: a fixed window, one key
per user and window. When Redis cannot be reached the run is let through (and logged): the limit
protects the workers, and refusing every run because Redis hiccupped would be worse.
"""

import logging
import time

import redis

from infrastructure.app_settings import app_settings
from infrastructure.redis_access import key, redis_sync

logger = logging.getLogger(__name__)

EXECUTE_SCOPE = "execute"


def _window_key(scope: str, user_id: int, window: int) -> str:
    return key("ratelimit", scope, user_id, int(time.time() // window))


def execute_rate_take(*, user_id: int) -> bool:
    """Count one run for this user in the current window; False when that makes more than the limit."""
    window = app_settings.EXECUTE_RATE_WINDOW_S
    counter = _window_key(EXECUTE_SCOPE, user_id, window)
    try:
        pipe = redis_sync().pipeline(transaction=False)
        pipe.incr(counter)
        pipe.expire(counter, window + 1)
        count, _ = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("rate limit not checked (Redis unreachable: %r)", exc)
        return True
    return count <= app_settings.EXECUTE_RATE_LIMIT


def execute_rate_wait() -> float:
    """Seconds until the current window ends (a refused caller may try again then)."""
    window = app_settings.EXECUTE_RATE_WINDOW_S
    return window - (time.time() % window)
