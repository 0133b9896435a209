import assert from "node:assert/strict";
import { test } from "node:test";

import { formatDuration } from "../gamification/format.js";
import { formatSeconds, severityLabel, tickerItem } from "../gamification/titles.js";
import { catalogueGettext, envelope } from "./fakes.js";

const PORTUGUESE_CATALOGUE = new URL("../../../locale/pt_BR/LC_MESSAGES/djangojs.po", import.meta.url);

const councilor = {
  councilor_id: "sec",
  task_name: "Security audit",
  display_name: "Security advisor",
  execution_id: "exec_sec_1",
  started_at: "2026-01-01T00:00:00+00:00",
  emoji: "🛡️",
};
const finished = { ...councilor, completed_at: "2026-01-01T00:00:15+00:00", status: "completed" };

test("started: 🏛️ <name> - started (a neutral word: a shell loop is no analysis)", () => {
  const item = tickerItem(envelope("councilor_started", councilor, 7));
  assert.equal(item.title, "🏛️ Security advisor - started");
  assert.equal(item.avatar, "🛡️");
  assert.equal(item.id, 7);
  assert.equal(item.tone, "running");
  assert.equal(item.executionId, "exec_sec_1");
  assert.equal(item.agentId, "sec");
});

test("completed: <emoji> <name> - <label> (<seconds>s) for each severity", () => {
  const cases = [
    ["success", 15000, "✅ Security advisor - Success (15s)"],
    ["warning", 1234, "⚠️ Security advisor - Warning (1.2s)"],
    ["error", 300, "❌ Security advisor - Error (0.3s)"],
    ["success", 23, "✅ Security advisor - Success (23ms)"],
  ];
  for (const [severity, duration_ms, title] of cases) {
    const item = tickerItem(envelope("councilor_completed", { ...finished, severity, duration_ms }));
    assert.equal(item.title, title);
    assert.equal(item.tone, severity);
  }
});

test("error: ❌ <name> - Error: <message>", () => {
  const data = { ...finished, status: "error", severity: "error", error: "exit status 2" };
  assert.equal(tickerItem(envelope("councilor_error", data)).title, "❌ Security advisor - Error: exit status 2");
});

test("error whose details are withheld from this reader: says so, in both languages, never 'Error: ' and nothing", async () => {
  // The public shape of councilor_error (docs/protocol.md, "Private run details"): error emptied.
  const withheld = { ...finished, status: "error", severity: "error", error: "", details_withheld: true };
  const english = tickerItem(envelope("councilor_error", withheld));
  assert.equal(english.title, "❌ Security advisor - Error (details not shown to you)");
  assert.equal(english.tone, "error");
  const { gettext } = await catalogueGettext(PORTUGUESE_CATALOGUE);
  const portuguese = tickerItem(envelope("councilor_error", withheld), { gettext });
  assert.equal(portuguese.title, "❌ Security advisor - Erro (detalhes não visíveis para você)");
  // agent_execution_completed's public shape leaves `error` out altogether.
  const agentRun = { agent_id: "lint", agent_name: "Linter", execution_id: "exec_lint_1", status: "error", severity: "error", duration_ms: 900 };
  const agent = tickerItem(envelope("agent_execution_completed", { ...agentRun, details_withheld: true }), { gettext });
  assert.equal(agent.title, "❌ Linter - Erro (detalhes não visíveis para você)");
  // An error event without a message (and nothing withheld) ends on "Error", not on "Error: ".
  assert.equal(tickerItem(envelope("councilor_error", { ...withheld, details_withheld: false })).title, "❌ Security advisor - Error");
});

test("error: the message in the page's language, by the server's table of its own texts", async () => {
  const { gettext } = await catalogueGettext(PORTUGUESE_CATALOGUE);
  const errorPatterns = [{ pattern: "^exited with status (?<status>-?\\d+)$", flags: "", message: "saiu com status %(status)s" }];
  const data = { ...finished, status: "error", severity: "error", error: "exited with status 2" };
  const item = tickerItem(envelope("councilor_error", data), { gettext, errorPatterns });
  assert.equal(item.title, "❌ Security advisor - Erro: saiu com status 2");
});

test("an alert of the project's own reads in the page's language; anyone else's as sent", () => {
  const errorPatterns = [
    { pattern: "^(?<title>.+) failed (?<count>-?\\d+) runs in a row$", flags: "s", message: "%(title)s falhou %(count)s execuções seguidas" },
  ];
  const streak = { level: "critical", message: "Backup check failed 3 runs in a row", source: "councilors" };
  assert.equal(tickerItem(envelope("system_alert", streak), { errorPatterns }).title, "🚨 Backup check falhou 3 execuções seguidas");
  const operator = { level: "info", message: "disk almost full", source: "ops" };
  assert.equal(tickerItem(envelope("system_alert", operator), { errorPatterns }).title, "ℹ️ disk almost full");
});

test("one name per councilor: start, end, error and pause all use its display name", () => {
  const nameOf = (id) => ({ sec: "Security advisor" })[id] ?? null;
  const titles = [
    tickerItem(envelope("councilor_started", councilor), { nameOf }).title,
    tickerItem(envelope("councilor_completed", { ...finished, severity: "success", duration_ms: 1000 }), { nameOf }).title,
    tickerItem(envelope("councilor_paused", { councilor_id: "sec", success: true, by: "ada" }), { nameOf }).title,
    tickerItem(envelope("councilor_resumed", { councilor_id: "sec", success: true, by: "ada" }), { nameOf }).title,
  ];
  assert.ok(titles.every((title) => title.includes(" Security advisor - ")), titles.join(" | "));
});

test("agent runs read like councilor runs", () => {
  const base = { agent_id: "a", agent_name: "Linter", instance_id: "i1", execution_id: "e", started_at: "x" };
  assert.equal(tickerItem(envelope("agent_execution_started", base)).title, "🤖 Linter - run started");
  const done = { ...base, status: "completed", severity: "success", completed_at: "y", duration_ms: 2000 };
  assert.equal(tickerItem(envelope("agent_execution_completed", done)).title, "✅ Linter - Success (2s)");
  const failed = { ...done, status: "error", severity: "error", error: "timeout" };
  assert.equal(tickerItem(envelope("agent_execution_completed", failed)).title, "❌ Linter - Error: timeout");
  assert.equal(tickerItem(envelope("agent_execution_completed", done)).agentId, "a");
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
  assert.equal(alert("info").executionId, null);
});

test("pause and resume name who did it (the id when the page knows no name)", () => {
  const data = { councilor_id: "sec", success: true, by: "ada" };
  assert.equal(tickerItem(envelope("councilor_paused", data)).title, "⏸️ sec - paused by ada");
  assert.equal(tickerItem(envelope("councilor_resumed", data)).title, "▶️ sec - resumed by ada");
});

test("metrics and replies are not ticker items", () => {
  assert.equal(tickerItem(envelope("agent_metrics_updated", { agent_id: "a", metrics: {} })), null);
  assert.equal(tickerItem(envelope("pong", { timestamp: 1 })), null);
  assert.equal(tickerItem(null), null);
});

test("durations: whole seconds from 10 s, one decimal down to 0.1 s, milliseconds below, minutes from 60 s", () => {
  assert.deepEqual(
    [0, 23, 49, 99, 100, 999, 1000, 9949, 9950, 10400, 15000, 59499, 125600, 3840000].map((ms) => formatSeconds(ms)),
    ["0ms", "23ms", "49ms", "99ms", "0.1s", "1s", "1s", "9.9s", "10s", "10s", "15s", "59s", "2m 6s", "1h 4m"],
  );
  assert.deepEqual([null, undefined, -5, "x"].map((ms) => formatSeconds(ms)), ["—", "—", "—", "—"]);
});

test("durations in Portuguese: the number as Intl writes it, the unit from the catalogue (as the server's)", async () => {
  const { gettext } = await catalogueGettext(PORTUGUESE_CATALOGUE);
  const portuguese = (ms) => formatDuration(ms, { gettext, locale: "pt-br" });
  assert.deepEqual([23, 2100, 15000, 125600, 3840000].map(portuguese), ["23 ms", "2,1 s", "15 s", "2 min 6 s", "1 h 4 min"]);
});

test("in Portuguese the titles read as the original client's (the real djangojs catalogue)", async () => {
  const { gettext, size } = await catalogueGettext(PORTUGUESE_CATALOGUE);
  assert.ok(size > 20);
  const completed = (severity, duration_ms) =>
    tickerItem(envelope("councilor_completed", { ...finished, display_name: "Auditoria de segurança", severity, duration_ms }), { gettext, locale: "pt-br" }).title;
  assert.equal(completed("success", 15000), "✅ Auditoria de segurança - Sucesso (15 s)");
  assert.equal(completed("warning", 2100), "⚠️ Auditoria de segurança - Aviso (2,1 s)");
  assert.equal(completed("error", 2000), "❌ Auditoria de segurança - Erro (2 s)");
  const started = tickerItem(envelope("councilor_started", { ...councilor, display_name: "Auditoria de segurança" }), { gettext });
  assert.equal(started.title, "🏛️ Auditoria de segurança - Iniciando análise...");
  const error = tickerItem(envelope("councilor_error", { ...finished, status: "error", severity: "error", error: "saiu com 2" }), { gettext });
  assert.equal(error.title, "❌ Security advisor - Erro: saiu com 2");
  assert.deepEqual(["success", "warning", "error"].map((severity) => severityLabel(severity, gettext)), ["Sucesso", "Aviso", "Erro"]);
});

test("runs are named with their number, and a cancelled or timed-out run says so", () => {
  const numbers = { run_number: 128, attempt: 1, max_attempts: 1 };
  const started = tickerItem(envelope("councilor_started", { ...councilor, ...numbers }));
  assert.equal(started.title, "🏛️ Security advisor #128 - started");
  const cancelled = { ...finished, ...numbers, status: "cancelled", severity: "error", error: "cancelled", cancelled_by: "ada" };
  const item = tickerItem(envelope("councilor_error", cancelled));
  assert.equal(item.title, "⏹️ Security advisor #128 - cancelled by ada");
  assert.equal(item.tone, "neutral");
  const timedOut = { ...finished, ...numbers, status: "timed_out", severity: "error", error: "timed out after 30s" };
  assert.equal(tickerItem(envelope("councilor_error", timedOut)).title, "⌛ Security advisor #128 - timed out");
  const agentRun = { agent_id: "a", agent_name: "Audit", instance_id: "", execution_id: "e", ...numbers, run_number: 7 };
  assert.equal(tickerItem(envelope("agent_execution_started", agentRun)).title, "🤖 Audit #7 - run started");
  const agentCancelled = { ...agentRun, status: "cancelled", severity: "error", error: "cancelled" };
  assert.equal(tickerItem(envelope("agent_execution_completed", agentCancelled)).title, "⏹️ Audit #7 - cancelled");
});
