// The agent page's runs table, kept live: a run that starts appears at the top (first page, when
// it fits the filters), and changes in place when it ends.

import { pageGettext } from "../gamification/i18n.js";
import { formatSeconds, severityLabel } from "../gamification/titles.js";
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
    return { execution_id: d.execution_id, status: "running", severity: null, started_at: d.started_at, duration_ms: null };
  }
  if (FINISHED.includes(envelope.type)) {
    const error = envelope.type === "councilor_error" || d.status === "error";
    return {
      execution_id: d.execution_id,
      status: error ? "error" : "completed",
      severity: error ? "error" : d.severity,
      started_at: d.started_at,
      duration_ms: d.duration_ms ?? null,
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
  const statusLabels = { running: gettext("Running"), completed: gettext("Completed"), error: gettext("Error") };

  function renderRow(row) {
    return h(
      "tr",
      { dataset: { executionId: row.execution_id, status: row.status, severity: row.severity ?? "" } },
      h("th", { scope: "row" }, h("a", { href: runHref(config, row.execution_id) }, h("code", {}, row.execution_id))),
      h("td", { dataset: { field: "status" } }, h("span", { class: `badge status-${row.status}` }, statusLabels[row.status] ?? row.status)),
      h("td", { dataset: { field: "severity" } }, row.severity ? h("span", { class: `badge severity-${row.severity}` }, severityLabel(row.severity, gettext)) : "—"),
      h("td", { dataset: { field: "started" } }, h("time", { datetime: row.started_at ?? null }, localDateTime(row.started_at))),
      h("td", { dataset: { field: "duration" } }, row.duration_ms === null ? "—" : formatSeconds(row.duration_ms)),
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
