import assert from "node:assert/strict";
import { test } from "node:test";

import { RATE_WINDOW, successRates, trendLayout } from "../charts/trend.js";

const point = (id, duration_ms, severity) => ({ execution_id: id, started_at: null, duration_ms, severity });

test("one bar per run, as tall as its duration against the longest, coloured by severity", () => {
  const points = [point("a", 1000, "success"), point("b", 4000, "warning"), point("c", 2000, "error")];
  const { bars, maxMs } = trendLayout(points, { width: 300, height: 102, gap: 0 });
  assert.equal(bars.length, 3);
  assert.equal(maxMs, 4000);
  assert.deepEqual(bars.map((bar) => bar.x), [0, 100, 200]);
  assert.deepEqual(bars.map((bar) => bar.height), [25, 100, 50]);
  assert.deepEqual(bars.map((bar) => bar.y), [77, 2, 52]);
  assert.deepEqual(bars.map((bar) => bar.severity), ["success", "warning", "error"]);
  assert.deepEqual(bars.map((bar) => bar.executionId), ["a", "b", "c"]);
});

test("a chart with room for more runs keeps its bars thin, on the left", () => {
  const { bars } = trendLayout([point("a", 1, "success"), point("b", 1, "success")], { width: 300, gap: 0, slots: 30 });
  assert.deepEqual(bars.map((bar) => [bar.x, bar.width]), [[0, 10], [10, 10]]);
});

test("a run of 0 ms still shows a sliver; no runs draw nothing", () => {
  const { bars } = trendLayout([point("a", 0, "success"), point("b", 0, "success")], { height: 50 });
  assert.deepEqual(bars.map((bar) => bar.height), [1, 1]);
  assert.deepEqual(trendLayout([]), { bars: [], rates: [], ratePath: "", maxMs: 0 });
});

test("the success rate moves over a window of the latest runs; warnings count as successes", () => {
  const points = [point("a", 1, "success"), point("b", 1, "error"), point("c", 1, "warning"), point("d", 1, "error")];
  assert.deepEqual(successRates(points).map((rate) => Number(rate.toFixed(2))), [100, 50, 66.67, 50]);
  assert.deepEqual(successRates(points, 2), [100, 50, 50, 50]);
  assert.equal(RATE_WINDOW, 10);
  const { ratePath } = trendLayout(points, { width: 40, height: 12, gap: 0 });
  assert.equal(ratePath, "M5.0 1.0 L15.0 6.0 L25.0 4.3 L35.0 6.0");
});
