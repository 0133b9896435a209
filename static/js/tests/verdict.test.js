import assert from "node:assert/strict";
import { test } from "node:test";

import { runErrorText } from "../gamification/errors.js";
import { VERDICT_KEYS, runVerdict } from "../gamification/verdict.js";
import { catalogueGettext } from "./fakes.js";

const PORTUGUESE_CATALOGUE = new URL("../../../locale/pt_BR/LC_MESSAGES/djangojs.po", import.meta.url);

test("one verdict per status and severity: never 'Completed' beside 'Error'", () => {
  const cases = [
    ["queued", "", "queued", "Queued"],
    ["running", "", "running", "Running"],
    ["completed", "success", "succeeded", "Succeeded"],
    ["completed", "warning", "warnings", "Completed with warnings"],
    ["completed", "error", "reported_errors", "Completed, reported errors"],
    ["error", "error", "failed", "Failed"],
    ["cancelled", "", "cancelled", "Cancelled"],
    ["timed_out", "error", "timed_out", "Timed out"],
  ];
  for (const [status, severity, key, label] of cases) {
    const verdict = runVerdict(status, severity);
    assert.deepEqual([verdict.key, verdict.label], [key, label]);
  }
  assert.deepEqual(VERDICT_KEYS, cases.map(([, , key]) => key));
  assert.equal(runVerdict("paused_forever").key, "paused_forever");
});

test("in Portuguese (the real catalogue)", async () => {
  const { gettext } = await catalogueGettext(PORTUGUESE_CATALOGUE);
  assert.equal(runVerdict("completed", "error", gettext).label, "Concluída, relatou erros");
  assert.equal(runVerdict("error", "error", gettext).label, "Falhou");
});

test("a run's error is worded by the server's patterns, anything else as recorded", () => {
  const patterns = [{ pattern: "^exited with status (?<status>-?\\d+)$", flags: "", message: "saiu com status %(status)s" }];
  assert.equal(runErrorText("exited with status 2", patterns), "saiu com status 2");
  assert.equal(runErrorText("boom", patterns), "boom");
  assert.equal(runErrorText("", patterns), "");
});
