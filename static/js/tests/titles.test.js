import assert from "node:assert/strict";
import { test } from "node:test";

import { formatSeconds, tickerItem } from "../gamification/titles.js";
import { envelope } from "./fakes.js";

const councilor = {
  councilor_id: "sec",
  task_name: "Security audit",
  display_name: "Security advisor",
  execution_id: "exec_sec_1",
  started_at: "2026-01-01T00:00:00+00:00",
  emoji: "🛡️",
};
const finished = { ...councilor, completed_at: "2026-01-01T00:00:15+00:00", status: "completed" };

test("started: 🏛️ <task> - starting analysis…", () => {
  const item = tickerItem(envelope("councilor_started", councilor, 7));
  assert.equal(item.title, "🏛️ Security audit - starting analysis…");
  assert.equal(item.avatar, "🛡️");
  assert.equal(item.id, 7);
  assert.equal(item.tone, "running");
});

test("completed: <emoji> <name> - <label> (<seconds>s) for each severity", () => {
  const cases = [
    ["success", 15000, "✅ Security advisor - Success (15s)"],
    ["warning", 1234, "⚠️ Security advisor - Warning (1.2s)"],
    ["error", 300, "❌ Security advisor - Error (0.3s)"],
  ];
  for (const [severity, duration_ms, title] of cases) {
    const item = tickerItem(envelope("councilor_completed", { ...finished, severity, duration_ms }));
    assert.equal(item.title, title);
    assert.equal(item.tone, severity);
  }
});

test("error: ❌ <task> - Error: <message>", () => {
  const data = { ...finished, status: "error", severity: "error", error: "exit status 2" };
  assert.equal(tickerItem(envelope("councilor_error", data)).title, "❌ Security audit - Error: exit status 2");
});

test("agent runs read like councilor runs", () => {
  const base = { agent_id: "a", agent_name: "Linter", instance_id: "i1", execution_id: "e", started_at: "x" };
  assert.equal(tickerItem(envelope("agent_execution_started", base)).title, "🤖 Linter - starting…");
  const done = { ...base, status: "completed", severity: "success", completed_at: "y", duration_ms: 2000 };
  assert.equal(tickerItem(envelope("agent_execution_completed", done)).title, "✅ Linter - Success (2s)");
  const failed = { ...done, status: "error", severity: "error", error: "timeout" };
  assert.equal(tickerItem(envelope("agent_execution_completed", failed)).title, "❌ Linter - Error: timeout");
});

test("alerts by level", () => {
  const alert = (level) => tickerItem(envelope("system_alert", { level, message: "Disk full", source: "ops" }));
  assert.deepEqual([alert("info").title, alert("warning").title, alert("critical").title], [
    "ℹ️ Disk full",
    "⚠️ Disk full",
    "🚨 Disk full",
  ]);
  assert.deepEqual([alert("info").tone, alert("warning").tone, alert("critical").tone], ["info", "warning", "critical"]);
  assert.equal(alert("info").source, "ops");
});

test("pause and resume name who did it", () => {
  const data = { councilor_id: "sec", success: true, by: "ada" };
  assert.equal(tickerItem(envelope("councilor_paused", data)).title, "⏸️ sec - paused by ada");
  assert.equal(tickerItem(envelope("councilor_resumed", data)).title, "▶️ sec - resumed by ada");
});

test("metrics and replies are not ticker items", () => {
  assert.equal(tickerItem(envelope("agent_metrics_updated", { agent_id: "a", metrics: {} })), null);
  assert.equal(tickerItem(envelope("pong", { timestamp: 1 })), null);
  assert.equal(tickerItem(null), null);
});

test("seconds: whole from 10 s, one decimal below, never negative", () => {
  assert.deepEqual(
    [0, 49, 50, 999, 1000, 9949, 9950, 10400, 15000, 125600, -5].map(formatSeconds),
    ["0s", "0s", "0.1s", "1s", "1s", "9.9s", "10s", "10s", "15s", "126s", "0s"],
  );
});
