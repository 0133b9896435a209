// The `/runs/` table kept live (docs/dashboard.md, "All runs"). Whether a run belongs in the table
// (the user may see it, it fits the filters) is the server's call: for each run event the page asks
// `/runs/row/<execution_id>?<filters>` and adds, replaces or removes the row with the answer.

import { runErrorText } from "../gamification/errors.js";
import { interpolate, pageGettext, pageNgettext } from "../gamification/i18n.js";
import { formatSeconds } from "../gamification/titles.js";
import { paintVerdict } from "../gamification/verdict.js";
import { flash, h } from "../dashboard/dom.js";
import { localDateTime } from "../dashboard/format.js";
import { agentHref, runHref } from "../dashboard/links.js";

const RUN_EVENTS = ["councilor_started", "agent_execution_started", "councilor_completed", "councilor_error", "agent_execution_completed"];

/** The execution id a broadcast run event is about, or null (replies to this client, other events). */
export function runEventId(envelope) {
  if (!RUN_EVENTS.includes(envelope?.type) || envelope.data?.request_id !== undefined) return null;
  const id = envelope.data?.execution_id;
  return typeof id === "string" && id ? id : null;
}

/** Where to ask for a run's row under the page's filters. */
export function rowUrl(config, executionId) {
  const base = config.rowUrl.replace("__id__", encodeURIComponent(executionId));
  return config.filters ? `${base}?${config.filters}` : base;
}

/** "1 run", "12 runs", in the page's language. */
export function runsCount(count, ngettext = pageNgettext) {
  return interpolate(ngettext("%(counter)s run", "%(counter)s runs", count), { counter: count });
}

/** What to do with the table for a row answer: "replace", "remove", "add" or "none". */
export function rowChange({ present, row, firstPage }) {
  if (row && present) return "replace";
  if (present) return "remove";
  return row && firstPage ? "add" : "none";
}

export function renderRunRow(row, { config, gettext = pageGettext }) {
  const verdict = h("span", {});
  paintVerdict(verdict, row.status, row.severity, gettext);
  const notes = [];
  if (row.queue_place) notes.push(h("small", {}, interpolate(gettext("#%(place)s in line"), { place: row.queue_place })));
  if (row.max_attempts > 1) {
    notes.push(h("small", {}, interpolate(gettext("attempt %(attempt)s of %(max_attempts)s"), row)));
  }
  const requester = row.requested_by ?? (row.scheduled ? gettext("the schedule") : "—");
  return h(
    "tr",
    { dataset: { executionId: row.execution_id, status: row.status, severity: row.severity ?? "" } },
    h("th", { scope: "row" }, h("a", { href: runHref(config, row.execution_id) }, `#${row.run_number} `, h("code", {}, row.execution_id))),
    h(
      "td",
      { dataset: { field: "agent", label: gettext("Agent") } },
      h("span", {}, h("a", { href: agentHref(config, row.agent_id) }, `${row.emoji} ${row.agent_name}`), row.councilor ? h("small", {}, row.councilor) : null),
    ),
    h("td", { dataset: { field: "result", label: gettext("Result") }, title: row.error ? runErrorText(row.error, config.runErrorPatterns) : null }, h("span", {}, verdict, ...notes)),
    h("td", { dataset: { field: "requester", label: gettext("Asked by") } }, requester),
    h("td", { dataset: { field: "started", label: gettext("Started") } }, h("time", { datetime: row.started_at ?? null }, localDateTime(row.started_at))),
    h("td", { dataset: { field: "duration", label: gettext("Duration") } }, row.duration_ms === null ? "—" : formatSeconds(row.duration_ms)),
  );
}

export function mountAllRuns(table, { socket, config, counter = null, gettext = pageGettext, fetchJson = defaultFetch }) {
  const tbody = table.tBodies[0];

  function count(change) {
    if (!counter) return;
    const total = Math.max(0, Number(counter.dataset.count ?? 0) + change);
    counter.dataset.count = String(total);
    counter.textContent = runsCount(total);
  }

  async function refresh(executionId) {
    let answer;
    try {
      answer = await fetchJson(rowUrl(config, executionId));
    } catch (error) {
      console.warn("[runs] could not read run", executionId, error);
      return;
    }
    const current = [...tbody.rows].find((tr) => tr.dataset.executionId === executionId);
    const row = answer?.row ?? null;
    const change = rowChange({ present: Boolean(current), row, firstPage: config.firstPage });
    if (change === "replace") current.replaceWith(renderRunRow(row, { config, gettext }));
    else if (change === "remove") {
      current.remove();
      count(-1);
    } else if (change === "add") {
      tbody.querySelector("tr.empty")?.remove();
      const fresh = renderRunRow(row, { config, gettext });
      tbody.prepend(fresh);
      flash(fresh);
      count(+1);
    }
  }

  socket.events.on("message", (envelope) => {
    const executionId = runEventId(envelope);
    if (executionId) refresh(executionId);
  });
  return { refresh };
}

async function defaultFetch(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}
