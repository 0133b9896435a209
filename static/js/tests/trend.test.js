import assert from "node:assert/strict";
import { test } from "node:test";

import { RATE_WINDOW, durationTicks, successRates, trendSeries } from "../charts/trend.js";
import { catalogueGettext } from "./fakes.js";

const PORTUGUESE_CATALOGUE = new URL("../../../locale/pt_BR/LC_MESSAGES/djangojs.po", import.meta.url);

const point = (id, duration_ms, severity) => ({ execution_id: id, started_at: null, duration_ms, severity });

test("one bar per run, in seconds, in the column of its severity (so it takes that colour)", () => {
  const points = [point("a", 1000, "success"), point("b", 4000, "warning"), point("c", 2500, "error")];
  const [x, success, warning, error, rate] = trendSeries(points);
  assert.deepEqual(x, [0, 1, 2]);
  assert.deepEqual(success, [1, null, null]);
  assert.deepEqual(warning, [null, 4, null]);
  assert.deepEqual(error, [null, null, 2.5]);
  assert.equal(rate.length, 3);
});

test("the success rate moves over a window of the latest runs; warnings count as successes", () => {
  const points = [point("a", 1, "success"), point("b", 1, "error"), point("c", 1, "warning"), point("d", 1, "error")];
  assert.deepEqual(successRates(points).map((rate) => Number(rate.toFixed(2))), [100, 50, 66.67, 50]);
  assert.deepEqual(successRates(points, 2), [100, 50, 50, 50]);
  assert.equal(RATE_WINDOW, 10);
  assert.deepEqual(trendSeries([]), [[], [], [], [], []]);
});

test("the duration axis never gives two ticks one label: rounded alike, they are written in milliseconds", async () => {
  const { gettext } = await catalogueGettext(PORTUGUESE_CATALOGUE);
  // 0.25 s and 0.2 s both read "0,2 s" as a run's duration.
  const close = durationTicks([0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3], { gettext, locale: "pt-br" });
  assert.deepEqual(close, ["0 ms", "50 ms", "100 ms", "150 ms", "200 ms", "250 ms", "300 ms"]);
  // Ticks the usual wording tells apart keep it.
  assert.deepEqual(durationTicks([0, 1, 2], { gettext, locale: "pt-br" }), ["0 ms", "1 s", "2 s"]);
  assert.deepEqual(durationTicks([0, 0.02, 0.04]), ["0ms", "20ms", "40ms"]);
});
