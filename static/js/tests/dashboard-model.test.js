import assert from "node:assert/strict";
import { test } from "node:test";

import { formatRate, relativeTime } from "../dashboard/format.js";
import {
  councilorAfter,
  incidentLabel,
  nextRunOf,
  normalizeCouncilors,
  normalizeMetrics,
  rowFromApi,
  rowFromEvent,
  statusKey,
  statusLabel,
  wantsToast,
  willRetry,
} from "../dashboard/model.js";
import { envelope } from "./fakes.js";

const row = {
  councilor_id: "sec",
  title: "Security advisor",
  task_name: "Security audit",
  enabled: true,
  toast: { success: false, warning: true, error: true },
  status: "idle",
  running_execution_id: null,
  last_severity: null,
  last_duration_ms: null,
  last_run: null,
};

test("a run: started → running, completed → idle with severity and duration", () => {
  const running = councilorAfter(row, envelope("councilor_started", { execution_id: "e1", started_at: "T1" }));
  assert.equal(running.status, "running");
  assert.equal(statusLabel(running), "Running…");
  assert.equal(running.last_run, "T1");
  const done = councilorAfter(
    running,
    envelope("councilor_completed", { execution_id: "e1", severity: "warning", duration_ms: 1500, started_at: "T1" }),
  );
  assert.deepEqual([done.status, done.last_severity, done.last_duration_ms], ["idle", "warning", 1500]);
  assert.equal(statusLabel(done), "Active");
});

test("an error run records the error", () => {
  const failed = councilorAfter(row, envelope("councilor_error", { execution_id: "e2", error: "boom", started_at: "T" }));
  assert.deepEqual([failed.last_severity, failed.last_error, failed.last_duration_ms], ["error", "boom", null]);
});

test("the end of an older run does not hide a newer one that is running", () => {
  const running = { ...row, status: "running", running_execution_id: "e2", last_run: "T2" };
  const after = councilorAfter(
    running,
    envelope("councilor_completed", { execution_id: "e1", severity: "success", started_at: "T1" }),
  );
  assert.equal(after.status, "running");
  assert.equal(after.last_run, "T2");
  assert.equal(after.running_execution_id, "e2");
});

test("pause and resume flip enabled; a failed one changes nothing", () => {
  const paused = councilorAfter(row, envelope("councilor_paused", { councilor_id: "sec", success: true, by: "ada" }));
  assert.equal(paused.enabled, false);
  assert.equal(statusLabel(paused), "Paused");
  assert.equal(councilorAfter(paused, envelope("councilor_resumed", { success: true })).enabled, true);
  assert.equal(councilorAfter(row, envelope("councilor_paused", { success: false })).enabled, true);
  assert.equal(councilorAfter(row, envelope("agent_metrics_updated", {})), null);
});

test("toasts only for councilors with the toast channel, on the severities they ask for", () => {
  assert.equal(wantsToast(row, "success"), false);
  assert.equal(wantsToast(row, "warning"), true);
  assert.equal(wantsToast({ ...row, toast: null }, "error"), false);
  assert.equal(wantsToast(undefined, "error"), false);
});

test("a queued run shows as queued, with its place when known, until it starts", () => {
  const queued = { ...row, status: "queued", running_execution_id: "exec_q", queue_place: 2 };
  assert.equal(statusKey(queued), "queued");
  assert.equal(statusLabel(queued), "Queued (#2 in line)");
  assert.equal(statusLabel({ ...queued, queue_place: null }), "Queued");
  const started = councilorAfter(queued, envelope("councilor_started", { execution_id: "exec_q", started_at: "2026-01-01T00:00:00Z" }));
  assert.equal(statusKey(started), "running");
  assert.equal(rowFromApi({ last_run: { status: "queued", execution_id: "exec_q" } }).status, "queued");
});

test("an attempt that will be retried pops no toast; the last one, a success or a cancel does", () => {
  assert.equal(willRetry({ status: "error", attempt: 1, max_attempts: 3 }), true);
  assert.equal(willRetry({ status: "timed_out", attempt: 2, max_attempts: 3 }), true);
  assert.equal(willRetry({ status: "error", attempt: 3, max_attempts: 3 }), false);
  assert.equal(willRetry({ status: "cancelled", attempt: 1, max_attempts: 3 }), false);
  assert.equal(willRetry({ status: "completed", attempt: 1, max_attempts: 3 }), false);
  assert.equal(willRetry({ status: "error" }), false);
});

test("a councilor first heard of in an event gets a row", () => {
  const fresh = rowFromEvent(envelope("councilor_started", { councilor_id: "new", display_name: "New one", task_name: "T", emoji: "🧪" }));
  assert.deepEqual([fresh.councilor_id, fresh.title, fresh.emoji, fresh.enabled], ["new", "New one", "🧪", true]);
});

test("metrics payloads of every shape normalize to a map by agent id", () => {
  const metrics = { total_executions: 2, success_rate: 50 };
  for (const payload of [
    { a: metrics },
    [{ agent_id: "a", metrics }],
    [{ agent_id: "a", ...metrics }],
    { agents: [{ agent_id: "a", metrics }] },
    { items: [{ agent_id: "a", metrics }] },
  ]) {
    const map = normalizeMetrics(payload);
    assert.equal(map.get("a").total_executions, 2, JSON.stringify(payload));
  }
});

test("councilor payloads and next run fields", () => {
  assert.equal(normalizeCouncilors([{ councilor_id: "a" }, { nope: 1 }]).length, 1);
  assert.equal(normalizeCouncilors({ items: [{ councilor_id: "a" }] }).length, 1);
  assert.equal(nextRunOf({ next_run: "X" }), "X");
  assert.equal(nextRunOf({ schedule: { next_run: "Y" } }), "Y");
  assert.equal(nextRunOf({}), null);
});

test("relative times and rates", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  assert.equal(relativeTime("2026-01-01T11:59:50Z", now), "just now");
  assert.equal(relativeTime("2026-01-01T11:55:00Z", now), "5 minutes ago");
  assert.equal(relativeTime("2026-01-01T12:30:00Z", now), "in 30 minutes");
  assert.equal(relativeTime("2026-01-01T14:00:00Z", now), "in 2 hours");
  assert.equal(relativeTime("2026-01-01T12:59:59Z", now), "in 1 hour");
  assert.equal(relativeTime("2026-01-01T12:58:00Z", now), "in 58 minutes");
  assert.equal(relativeTime("2026-01-02T11:50:00Z", now), "in 1 day");
  assert.equal(relativeTime("2025-12-29T12:00:00Z", now), "3 days ago");
  assert.equal(relativeTime(null, now), "—");
  assert.equal(relativeTime("garbage", now), "—");
  // Intl words it in the page's language.
  assert.equal(relativeTime("2026-01-01T11:55:00Z", now, undefined, "pt-br"), "há 5 minutos");
  assert.equal(relativeTime("2026-01-01T14:00:00Z", now, undefined, "pt-br"), "em 2 horas");
  assert.equal(formatRate(100, 3), "100 %");
  assert.equal(formatRate(66.7, 3), "66.7 %");
  assert.equal(formatRate(66.7, 3, "pt-br"), "66,7 %");
  assert.equal(formatRate(0, 0), "—");
});

test("a councilor from the API brings next run, enabled and its last run", () => {
  const item = {
    councilor_id: "sec",
    enabled: false,
    next_run: null,
    last_run: { execution_id: "e9", status: "completed", severity: "warning", started_at: "T9", duration_ms: 900 },
  };
  assert.deepEqual(rowFromApi(item), {
    next_run: null,
    enabled: false,
    status: "idle",
    running_execution_id: null,
    last_execution_id: "e9",
    last_run: "T9",
    last_severity: "warning",
    last_status: "completed",
    last_duration_ms: 900,
  });
  const running = rowFromApi({ councilor_id: "sec", next_run: "N", last_run: { execution_id: "e10", status: "running" } });
  assert.equal(running.status, "running");
  assert.equal(running.running_execution_id, "e10");
  assert.equal("last_severity" in running, false, "a running last run keeps the previous result shown");
  assert.deepEqual(rowFromApi({ councilor_id: "x", next_run: "N" }), { next_run: "N" });
});

test("a cancelled run's end keeps its status for the row's verdict", () => {
  const row = { councilor_id: "sec", status: "running", running_execution_id: "e1", enabled: true };
  const data = { councilor_id: "sec", execution_id: "e1", status: "cancelled", severity: "error", error: "cancelled", duration_ms: 5 };
  const after = councilorAfter(row, { type: "councilor_error", data });
  assert.equal(after.status, "idle");
  assert.equal(after.last_status, "cancelled");
});

test("an incident alert marks its councilor; the run's start clears late and missed, its end clears stuck", () => {
  const alert = (incident, councilorId = "sec") =>
    envelope("system_alert", { level: "warning", message: "m", source: "councilors", details: { councilor_id: councilorId, incident } });
  assert.equal(councilorAfter(row, alert("late", "other")), null);
  assert.equal(councilorAfter(row, alert("unheard-of")), null);
  const late = councilorAfter(row, alert("late"));
  assert.deepEqual(late.incidents, ["late"]);
  assert.equal(councilorAfter(late, alert("late")), late); // the same incident again: no change
  const running = councilorAfter(late, envelope("councilor_started", { execution_id: "e1", started_at: "T1" }));
  assert.deepEqual(running.incidents, []);
  const stuck = councilorAfter(running, alert("stuck"));
  assert.deepEqual(stuck.incidents, ["stuck"]);
  const done = councilorAfter(stuck, envelope("councilor_error", { execution_id: "e1", error: "timed out", started_at: "T1" }));
  assert.deepEqual(done.incidents, []);
  assert.deepEqual(rowFromApi({ councilor_id: "sec", incidents: ["stuck", "bogus"] }).incidents, ["stuck"]);
  assert.deepEqual(["late", "stuck", "missed"].map((kind) => incidentLabel(kind)), ["Late", "Stuck", "Missed runs"]);
});
