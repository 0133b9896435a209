"""A token bucket: `rate` commands per second on average, `burst` at once."""

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock  # seconds, never going backwards (tests pass their own)
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        """Spend one token; False when the bucket is empty (the caller is over the limit)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
