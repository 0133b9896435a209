// One verdict per run (councilors/verdicts.py, the same table): a run's status and severity said in
// one wording and one badge, so "Completed" never stands beside "Error". Pure, node-tested;
// tests/councilors/test_verdicts.py checks this table against the server's.

import { gettext_noop, pageGettext } from "./i18n.js";

const VERDICTS = Object.freeze({
  queued: { key: "queued", tone: "queued", icon: "⏳", label: gettext_noop("Queued") },
  running: { key: "running", tone: "running", icon: "▶️", label: gettext_noop("Running") },
  succeeded: { key: "succeeded", tone: "success", icon: "✅", label: gettext_noop("Succeeded") },
  warnings: { key: "warnings", tone: "warning", icon: "⚠️", label: gettext_noop("Completed with warnings") },
  reported_errors: { key: "reported_errors", tone: "error", icon: "❌", label: gettext_noop("Completed, reported errors") },
  failed: { key: "failed", tone: "error", icon: "❌", label: gettext_noop("Failed") },
  cancelled: { key: "cancelled", tone: "neutral", icon: "⏹️", label: gettext_noop("Cancelled") },
  timed_out: { key: "timed_out", tone: "error", icon: "⌛", label: gettext_noop("Timed out") },
});
const BY_STATUS = { queued: "queued", running: "running", error: "failed", cancelled: "cancelled", timed_out: "timed_out" };
const COMPLETED_BY_SEVERITY = { success: "succeeded", warning: "warnings", error: "reported_errors" };

/** Every verdict, for the table's cross-check with the server's. */
export const VERDICT_KEYS = Object.freeze(Object.keys(VERDICTS));

/** The verdict of a run whose record says `status` and `severity`: {key, tone, icon, label}. */
export function runVerdict(status, severity, gettext = pageGettext) {
  let verdict;
  if (status === "completed") verdict = VERDICTS[COMPLETED_BY_SEVERITY[severity] ?? "succeeded"];
  else if (BY_STATUS[status]) verdict = VERDICTS[BY_STATUS[status]];
  else return { key: status || "unknown", tone: "neutral", icon: "•", label: status || gettext("Unknown") };
  return { ...verdict, label: gettext(verdict.label) };
}

/** Show a run's verdict in `badge` (class, data-* attributes, text): the run page, rows, the admin. */
export function paintVerdict(badge, status, severity, gettext = pageGettext) {
  const verdict = runVerdict(status, severity, gettext);
  badge.className = `verdict tone-${verdict.tone}`;
  badge.dataset.status = status ?? "";
  badge.dataset.severity = severity ?? "";
  badge.dataset.verdict = verdict.key;
  badge.textContent = `${verdict.icon} ${verdict.label}`;
  return verdict;
}
