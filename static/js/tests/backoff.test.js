import assert from "node:assert/strict";
import { test } from "node:test";

import { BACKOFF_CAP_MS, backoffCeiling, backoffDelay } from "../gamification/backoff.js";

test("the ceiling doubles from the base and stops at the 5 s cap", () => {
  const ceilings = [0, 1, 2, 3, 4, 5, 6, 50, 5000].map((attempt) => backoffCeiling(attempt));
  assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000]);
  assert.equal(BACKOFF_CAP_MS, 5000);
});

test("full jitter: the delay spans 0 up to (not including) the ceiling", () => {
  assert.equal(backoffDelay(3, { random: () => 0 }), 0);
  assert.equal(backoffDelay(3, { random: () => 0.5 }), 2000);
  assert.equal(backoffDelay(3, { random: () => 0.999999 }), 3999);
  assert.equal(backoffDelay(20, { random: () => 0.999999 }), 4999);
});

test("with the real random source no delay ever exceeds the cap", () => {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    for (let i = 0; i < 50; i += 1) {
      const delay = backoffDelay(attempt);
      assert.ok(delay >= 0 && delay < BACKOFF_CAP_MS, `attempt ${attempt}: ${delay}`);
    }
  }
});

test("custom base and cap, and bad attempts are refused", () => {
  assert.equal(backoffCeiling(2, { baseMs: 100, capMs: 300 }), 300);
  assert.throws(() => backoffCeiling(-1), RangeError);
  assert.throws(() => backoffCeiling(1.5), RangeError);
});
