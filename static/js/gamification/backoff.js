// Reconnect delays: exponential backoff with "full jitter" (AWS Architecture Blog, 2015).
// Each client waits a random time between 0 and the exponential ceiling, so browsers that lost
// the same gateway do not all come back in the same instant; the ceiling never exceeds the cap
// (docs/dashboard.md, "The JavaScript client": never more than 5 s between tries).

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 5000;

/** The longest wait before try number `attempt` (0 for the first retry after a loss). */
export function backoffCeiling(attempt, { baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS } = {}) {
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
  }
  // 2 ** attempt overflows to Infinity long after it passed the cap; Math.min keeps it bounded.
  return Math.min(capMs, baseMs * 2 ** attempt);
}

/** A random wait in [0, ceiling) for try number `attempt`; `random` is injectable for tests. */
export function backoffDelay(attempt, { baseMs, capMs, random = Math.random } = {}) {
  return Math.floor(random() * backoffCeiling(attempt, { baseMs, capMs }));
}
