import assert from "node:assert/strict";
import { test } from "node:test";

import { errorMessage } from "../agent/runform.js";
import { fitsFilters, runRowOf } from "../agent/runs.js";
import { agentHref, itemHref, runHref } from "../dashboard/links.js";
import { agentIdOf, statusKey, trendPointOf, trendWith } from "../dashboard/model.js";
import { OutputView } from "../run/output.js";
import { catalogueGettext, envelope } from "./fakes.js";

const PORTUGUESE_CATALOGUE = new URL("../../../locale/pt_BR/LC_MESSAGES/djangojs.po", import.meta.url);
const CONFIG = { runUrl: "/executions/__id__/", agentUrl: "/agents/__id__/" };

test("links open the run page, or the agent page for pause and resume", () => {
  assert.equal(runHref(CONFIG, "exec_a_1"), "/executions/exec_a_1/");
  assert.equal(agentHref(CONFIG, "a"), "/agents/a/");
  assert.equal(itemHref(CONFIG, { executionId: "exec_a_1", agentId: "a" }), "/executions/exec_a_1/");
  assert.equal(itemHref(CONFIG, { executionId: null, agentId: "a" }), "/agents/a/");
  assert.equal(itemHref(CONFIG, { executionId: null, agentId: null }), null);
});

test("a finished run's event becomes a trend point of its agent, once", () => {
  const done = envelope("councilor_completed", { councilor_id: "a", execution_id: "e2", severity: "warning", duration_ms: 5, started_at: "T" });
  const point = trendPointOf(done);
  assert.deepEqual(point, { execution_id: "e2", started_at: "T", duration_ms: 5, severity: "warning" });
  assert.equal(agentIdOf(done), "a");
  assert.equal(trendPointOf(envelope("councilor_error", { councilor_id: "a", execution_id: "e3" })).severity, "error");
  assert.equal(trendPointOf(envelope("councilor_started", { execution_id: "e4" })), null);
  const before = [{ execution_id: "e1" }];
  assert.deepEqual(trendWith(before, point, 30).map((p) => p.execution_id), ["e1", "e2"]);
  assert.deepEqual(trendWith(trendWith(before, point, 30), point, 30).length, 2, "no run twice");
  assert.deepEqual(trendWith(before, point, 1).map((p) => p.execution_id), ["e2"], "the newest `limit` only");
});

test("status keys do not depend on the language", () => {
  assert.equal(statusKey({ status: "running", enabled: false }), "running");
  assert.equal(statusKey({ status: "idle", enabled: true }), "active");
  assert.equal(statusKey({ status: "idle", enabled: false }), "paused");
});

test("run rows from events, and which fit the page's filters", () => {
  const started = runRowOf(envelope("agent_execution_started", { agent_id: "a", execution_id: "e", started_at: "T" }));
  assert.deepEqual(started, { execution_id: "e", run_number: null, status: "running", severity: null, started_at: "T", duration_ms: null });
  const numbered = runRowOf(envelope("councilor_error", { councilor_id: "a", execution_id: "e", status: "cancelled", severity: "error", run_number: 12 }));
  assert.deepEqual([numbered.run_number, numbered.status, numbered.severity], [12, "cancelled", "error"]);
  const failed = runRowOf(envelope("councilor_error", { councilor_id: "a", execution_id: "e", started_at: "T", duration_ms: 9 }));
  assert.deepEqual([failed.status, failed.severity, failed.duration_ms], ["error", "error", 9]);
  assert.equal(runRowOf(envelope("agent_metrics_updated", {})), null);
  assert.equal(fitsFilters(started, { severity: "", status: "" }), true);
  assert.equal(fitsFilters(started, { severity: "error", status: "" }), false);
  assert.equal(fitsFilters(failed, { severity: "error", status: "error" }), true);
});

test("the run form shows the API's errors: fields, rate limit, anything else", async () => {
  const invalid = {
    detail: "Invalid request: The prompt must not be empty: say what the agent should do.",
    code: "invalid",
    errors: [{ field: "prompt", message: "The prompt must not be empty: say what the agent should do." }],
  };
  assert.equal(errorMessage(400, invalid, null), "The prompt must not be empty: say what the agent should do.");
  const two = { detail: "…", code: "invalid", errors: [{ field: "a", message: "One." }, { field: "b", message: "Two." }] };
  assert.equal(errorMessage(400, two, null), "One. Two.");
  assert.equal(errorMessage(400, { detail: "The body is not valid JSON.", code: "invalid" }, null), "The body is not valid JSON.");
  assert.equal(errorMessage(429, { detail: "slow down", code: "rate_limited" }, "42"), "Too many runs asked for: the rate limit is reached. Try again in 42 s.");
  assert.equal(errorMessage(404, { detail: "No agent with agent_id 'x'.", code: "not_found" }, null), "This agent is not available through the API, or no longer exists.");
  assert.equal(errorMessage(401, { detail: "Authentication required", code: "unauthorized" }, null), "Your session has ended: log in again, then run it.");
  assert.match(errorMessage(403, { detail: "CSRF check failed", code: "forbidden" }, null), /^Not allowed: running agents needs the councilors\.run_agent permission/);
  assert.equal(errorMessage(502, null, null), "The server answered 502.");
  const { gettext } = await catalogueGettext(PORTUGUESE_CATALOGUE);
  assert.equal(errorMessage(429, {}, "5", gettext), "Execuções demais pedidas: o limite foi atingido. Tente de novo em 5 s.");
  assert.equal(errorMessage(404, {}, null, gettext), "Este agente não está disponível pela API, ou não existe mais.");
});

test("the output view never shows a line twice and writes once per frame", () => {
  const root = { dataset: { lastLine: "2" }, childElementCount: 2 };
  const frames = [];
  const view = new OutputView(root, { schedule: (callback) => frames.push(callback) });
  assert.equal(view.lastLine, 2);
  assert.equal(view.append(2, "two again"), false, "the server rendered it already");
  assert.equal(view.append(3, "three"), true);
  assert.equal(view.append(4, "four"), true);
  assert.equal(view.append(4, "four again"), false);
  assert.equal(frames.length, 1, "one flush scheduled for every line of the frame");
});
