// The agent page's runs table, kept live: a run that starts appears at the top (first page, when
// it fits the filters), and changes in place when it ends.

import { runErrorText } from "../gamification/errors.js";
import { pageGettext } from "../gamification/i18n.js";
import { formatSeconds } from "../gamification/titles.js";
import { paintVerdict } from "../gamification/verdict.js";
import { flash, h } from "../dashboard/dom.js";
import { localDateTime } from "../dashboard/format.js";
import { runHref } from "../dashboard/links.js";
import { agentIdOf } from "../dashboard/model.js";

const STARTED = ["councilor_started", "agent_execution_started"];
const FINISHED = ["councilor_completed", "councilor_error", "agent_execution_completed"];

/** The row a run event leaves in the table (null for events that are not about runs). */
export function runRowOf(envelope) {
  const d = envelope.data ?? {};
  if (STARTED.includes(envelope.type)) {
    return { execution_id: d.execution_id, run_number: d.run_number ?? null, status: "running", severity: null, started_at: d.started_at, duration_ms: null };
  }
  if (FINISHED.includes(envelope.type)) {
    // The event's own status (completed, error, and the statuses to come: cancelled, timed_out).
    const status = d.status ?? (envelope.type === "councilor_error" ? "error" : "completed");
    return {
      execution_id: d.execution_id,
      run_number: d.run_number ?? null,
      status,
      severity: status === "error" ? "error" : d.severity,
      started_at: d.started_at,
      duration_ms: d.duration_ms ?? null,
      error: d.error ?? "",
    };
  }
  return null;
}

/** Whether a row belongs in a table filtered by severity and/or status ("" = any). */
export function fitsFilters(row, filters) {
  return (!filters.severity || row.severity === filters.severity) && (!filters.status || row.status === filters.status);
}

export function mountRuns(table, { socket, config, gettext = pageGettext }) {
  const tbody = table.tBodies[0];
  const labels = { result: gettext("Result"), started: gettext("Started"), duration: gettext("Duration") };

  function renderRow(row) {
    const verdict = h("span", {});
    paintVerdict(verdict, row.status, row.severity, gettext);
    const error = row.error ? runErrorText(row.error, config.runErrorPatterns) : null;
    return h(
      "tr",
      { dataset: { executionId: row.execution_id, status: row.status, severity: row.severity ?? "" } },
      h(
        "th",
        { scope: "row" },
        h("a", { href: runHref(config, row.execution_id) }, row.run_number ? h("span", { class: "run-number" }, `#${row.run_number}`) : null, row.run_number ? " " : null, h("code", {}, row.execution_id)),
      ),
      h("td", { dataset: { field: "result", label: labels.result }, title: error }, verdict),
      h("td", { dataset: { field: "started", label: labels.started } }, h("time", { datetime: row.started_at ?? null }, localDateTime(row.started_at))),
      h("td", { dataset: { field: "duration", label: labels.duration } }, row.duration_ms === null ? "—" : formatSeconds(row.duration_ms)),
    );
  }

  socket.events.on("message", (envelope) => {
    if (agentIdOf(envelope) !== config.agentId || envelope.data?.request_id !== undefined) return;
    const row = runRowOf(envelope);
    if (!row) return;
    const current = [...tbody.rows].find((tr) => tr.dataset.executionId === row.execution_id);
    const fits = fitsFilters(row, config.filters);
    if (current && fits) current.replaceWith(renderRow(row));
    else if (current) current.remove();
    else if (fits && config.firstPage) {
      tbody.querySelector("tr.empty")?.remove();
      const fresh = renderRow(row);
      tbody.prepend(fresh);
      flash(fresh);
    }
  });
}
