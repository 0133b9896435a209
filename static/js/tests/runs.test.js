import assert from "node:assert/strict";
import { test } from "node:test";

import { rowChange, rowUrl, runEventId, runsCount } from "../runs/rows.js";
import { envelope } from "./fakes.js";

test("the runs list asks about every broadcast run event, and nothing else", () => {
  assert.equal(runEventId(envelope("councilor_started", { execution_id: "e1" })), "e1");
  assert.equal(runEventId(envelope("agent_execution_completed", { execution_id: "e2", status: "cancelled" })), "e2");
  assert.equal(runEventId(envelope("councilor_error", { execution_id: "e3" })), "e3");
  assert.equal(runEventId(envelope("system_alert", { execution_id: "e4" })), null);
  assert.equal(runEventId(envelope("councilor_started", { execution_id: "e5", request_id: "r" })), null);
  assert.equal(runEventId(envelope("councilor_started", {})), null);
});

test("the row is asked for under the page's filters", () => {
  const config = { rowUrl: "/runs/row/__id__", filters: "status=error&agent=a" };
  assert.equal(rowUrl(config, "exec_a_1"), "/runs/row/exec_a_1?status=error&agent=a");
  assert.equal(rowUrl({ ...config, filters: "" }, "exec a"), "/runs/row/exec%20a");
});

test("the server's answer adds a row on the first page only, replaces or removes one", () => {
  const row = { execution_id: "e1" };
  assert.equal(rowChange({ present: false, row, firstPage: true }), "add");
  assert.equal(rowChange({ present: false, row, firstPage: false }), "none");
  assert.equal(rowChange({ present: true, row, firstPage: false }), "replace");
  assert.equal(rowChange({ present: true, row: null, firstPage: true }), "remove");
  assert.equal(rowChange({ present: false, row: null, firstPage: true }), "none");
});

test("the count of runs follows the rows added and removed", () => {
  assert.equal(runsCount(1), "1 run");
  assert.equal(runsCount(12), "12 runs");
});
