// The councilors table: one row per councilor, changed in place by live events; pause / resume /
// run now buttons (for users allowed to change councilors) send the WebSocket control commands.

import { tickerItem } from "../gamification/titles.js";
import { flash, h } from "./dom.js";
import { formatSeconds, relativeTime } from "./format.js";
import { SEVERITY_LABELS, councilorAfter, normalizeCouncilors, rowFromApi, rowFromEvent, statusLabel, wantsToast } from "./model.js";

const COMMANDS = { pause: "pause_councilor", resume: "resume_councilor", run: "run_councilor" };
const DONE = { pause: "Paused", resume: "Resumed", run: "Run queued for" };
const REFRESH_DELAY_MS = 400;
const CLOCK_MS = 30000;

export function mountCouncilors(table, { socket, rows, canControl, councilorsUrl, toasts }) {
  const tbody = table.tBodies[0];
  const model = new Map(rows.map((row) => [row.councilor_id, row]));
  const busy = new Set(); // councilor ids with a command in flight
  let refreshTimer = null;

  function resultCell(row) {
    if (!row.last_severity) return h("td", { "data-label": "Last result", dataset: { field: "result" } }, "—");
    const duration = row.last_duration_ms === null || row.last_duration_ms === undefined ? "" : ` · ${formatSeconds(row.last_duration_ms)}`;
    return h(
      "td",
      { "data-label": "Last result", dataset: { field: "result", severity: row.last_severity }, title: row.last_error ?? null },
      h(
        "span",
        { class: "result" },
        h("span", { class: `badge severity-${row.last_severity}` }, SEVERITY_LABELS[row.last_severity] ?? row.last_severity),
        duration,
      ),
    );
  }

  function timeCell(label, field, iso) {
    return h("td", { "data-label": label, dataset: { field, at: iso ?? "" } }, h("time", { datetime: iso ?? null, title: iso ?? null }, relativeTime(iso)));
  }

  function actionsCell(row) {
    const disabled = !socket.isConnected() || busy.has(row.councilor_id);
    const toggle = row.enabled ? "pause" : "resume";
    return h(
      "td",
      { "data-label": "Actions", dataset: { field: "actions" }, class: "actions" },
      h("button", { type: "button", class: "button", dataset: { action: toggle }, disabled }, row.enabled ? "Pause" : "Resume"),
      h("button", { type: "button", class: "button primary", dataset: { action: "run" }, disabled }, "Run now"),
    );
  }

  function renderRow(row) {
    const status = statusLabel(row);
    return h(
      "tr",
      { dataset: { councilorId: row.councilor_id, status: row.status, enabled: String(row.enabled) } },
      h(
        "th",
        { scope: "row", "data-label": "Councilor" },
        h("span", { class: "avatar", "aria-hidden": "true" }, row.emoji || "🏛️"),
        h("span", { class: "name" }, row.title, h("small", {}, row.task_name)),
      ),
      h("td", { "data-label": "Schedule" }, row.schedule || "—"),
      h("td", { "data-label": "Status", dataset: { field: "status" } }, h("span", { class: `badge status-${status.replace("…", "").toLowerCase()}` }, status)),
      resultCell(row),
      timeCell("Last run", "last-run", row.last_run),
      timeCell("Next run", "next-run", row.enabled ? row.next_run : null),
      canControl ? actionsCell(row) : null,
    );
  }

  function renderAll() {
    const rendered = [...model.values()].map(renderRow);
    tbody.replaceChildren(...(rendered.length ? rendered : [h("tr", { class: "empty" }, h("td", { colspan: 7 }, "No councilors yet. Promote an agent in the admin."))]));
  }

  function update(id, { highlight = false } = {}) {
    const fresh = renderRow(model.get(id));
    const current = [...tbody.rows].find((tr) => tr.dataset.councilorId === id);
    if (current) current.replaceWith(fresh);
    else {
      tbody.querySelector("tr.empty")?.remove();
      tbody.append(fresh);
    }
    if (highlight) flash(fresh);
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, REFRESH_DELAY_MS);
  }

  /** Next runs, enabled flags and last runs from /api/councilors, which knows the schedules. */
  async function refresh() {
    try {
      const response = await fetch(councilorsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      for (const item of normalizeCouncilors(await response.json())) {
        const row = model.get(item.councilor_id);
        if (!row) continue;
        model.set(item.councilor_id, { ...row, ...rowFromApi(item) });
        update(item.councilor_id);
      }
    } catch (error) {
      console.warn("[dashboard] could not load councilors", error);
    }
  }

  function onEvent(envelope) {
    const id = envelope.data?.councilor_id;
    if (typeof id !== "string" || !envelope.type.startsWith("councilor_")) return;
    const row = model.get(id) ?? rowFromEvent(envelope);
    const next = councilorAfter(row, envelope);
    if (!next) return;
    model.set(id, next);
    update(id, { highlight: true });
    const finished = envelope.type === "councilor_completed" || envelope.type === "councilor_error";
    if (finished && wantsToast(next, next.last_severity)) {
      const item = tickerItem(envelope);
      toasts.show({ title: item.title, tone: item.tone, detail: next.task_name, dataset: { councilorId: id, eventType: envelope.type } });
    }
    if (finished || envelope.type === "councilor_paused" || envelope.type === "councilor_resumed") scheduleRefresh();
  }

  async function onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = button.closest("tr").dataset.councilorId;
    const action = button.dataset.action;
    busy.add(id);
    update(id);
    try {
      const reply = await socket.request(COMMANDS[action], { councilor_id: id });
      const what = action === "run" && reply.execution_id ? ` (${reply.execution_id})` : "";
      toasts.show({ title: `${DONE[action]} ${model.get(id)?.title ?? id}${what}`, tone: "info" });
    } catch (error) {
      toasts.show({ title: `Could not ${action === "run" ? "run" : action} ${id}`, detail: error.message, tone: "error" });
    } finally {
      busy.delete(id);
      update(id);
    }
  }

  renderAll();
  socket.events.on("message", onEvent);
  socket.events.on("state", renderAll); // buttons follow the connection
  if (canControl) tbody.addEventListener("click", onClick);
  setInterval(renderAll, CLOCK_MS); // relative times ("in 4 min") move on
  refresh();
  return { reload: refresh, get: (id) => model.get(id) };
}
