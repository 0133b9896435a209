// The councilors table: one row per councilor, changed in place by live events; pause / resume /
// run now buttons (for users allowed to change councilors) send the WebSocket control commands.
// A row's name opens the councilor's page, its last result the run's page.

import { pageGettext } from "../gamification/i18n.js";
import { interpolate } from "../gamification/i18n.js";
import { severityLabel, tickerItem } from "../gamification/titles.js";
import { runVerdict } from "../gamification/verdict.js";
import { controlButtons, sendControl } from "./controls.js";
import { flash, h } from "./dom.js";
import { formatSeconds, relativeTime } from "./format.js";
import { agentHref, runHref } from "./links.js";
import { councilorAfter, incidentLabel, normalizeCouncilors, rowFromApi, rowFromEvent, statusKey, statusLabel, wantsToast, willRetry } from "./model.js";

const REFRESH_DELAY_MS = 400;
const CLOCK_MS = 30000;

// A run that did not complete is said as its verdict (Cancelled, Timed out), not as a bare "Error".
const VERDICT_STATUSES = new Set(["cancelled", "timed_out"]);

export function mountCouncilors(table, { socket, rows, canControl, canCancel = false, councilorsUrl, toasts, config, gettext = pageGettext }) {
  const tbody = table.tBodies[0];
  const model = new Map(rows.map((row) => [row.councilor_id, row]));
  const busy = new Set(); // councilor ids with a command in flight
  let refreshTimer = null;
  const labels = {
    councilor: gettext("Councilor"),
    schedule: gettext("Schedule"),
    status: gettext("Status"),
    result: gettext("Last result"),
    lastRun: gettext("Last run"),
    nextRun: gettext("Next run"),
    actions: gettext("Actions"),
  };

  function resultCell(row) {
    if (!row.last_severity) return h("td", { "data-label": labels.result, dataset: { field: "result" } }, "—");
    const duration = row.last_duration_ms === null || row.last_duration_ms === undefined ? "" : ` · ${formatSeconds(row.last_duration_ms)}`;
    const label = VERDICT_STATUSES.has(row.last_status) ? runVerdict(row.last_status, row.last_severity, gettext).label : severityLabel(row.last_severity, gettext);
    const badge = h("span", { class: `badge severity-${row.last_severity}`, dataset: { status: row.last_status ?? "" } }, label);
    const href = runHref(config, row.last_execution_id);
    return h(
      "td",
      { "data-label": labels.result, dataset: { field: "result", severity: row.last_severity }, title: row.last_error ?? null },
      href ? h("a", { class: "result", href }, badge, duration) : h("span", { class: "result" }, badge, duration),
    );
  }

  function timeCell(label, field, iso) {
    return h("td", { "data-label": label, dataset: { field, at: iso ?? "" } }, h("time", { datetime: iso ?? null, title: iso ?? null }, relativeTime(iso, Date.now(), gettext)));
  }

  function actionsCell(row) {
    const disabled = !socket.isConnected() || busy.has(row.councilor_id);
    return h("td", { "data-label": labels.actions, dataset: { field: "actions" }, class: "actions" }, ...controlButtons({ enabled: row.enabled, disabled, gettext }));
  }

  /** Cancel, on a running row, for holders of councilors.cancel_execution (docs/protocol.md, "cancel_run"). */
  function cancelButton(row) {
    if (!canCancel || row.status !== "running" || !row.running_execution_id) return null;
    const disabled = !socket.isConnected() || busy.has(row.councilor_id);
    return h("button", { type: "button", class: "button danger cancel", dataset: { cancel: row.running_execution_id }, disabled }, gettext("Cancel"));
  }

  async function cancelRun(id, executionId) {
    try {
      const reply = await socket.request("cancel_run", { execution_id: executionId });
      toasts.show({ title: reply.message, tone: "info", href: runHref(config, executionId) });
    } catch (error) {
      const name = model.get(id)?.title ?? id;
      toasts.show({ title: interpolate(gettext("Could not cancel %(name)s"), { name }), detail: error.message, tone: "error" });
    }
  }

  function renderRow(row) {
    const status = statusLabel(row, gettext);
    const inFlight = row.status === "running" || row.status === "queued";
    const running = inFlight ? runHref(config, row.running_execution_id) : null;
    return h(
      "tr",
      { dataset: { councilorId: row.councilor_id, status: row.status, enabled: String(row.enabled) } },
      h(
        "th",
        { scope: "row", "data-label": labels.councilor },
        h("span", { class: "avatar", "aria-hidden": "true" }, row.emoji || "🏛️"),
        // The task's name under the title, unless it is the same words ("Heartbeat / Heartbeat").
        h("a", { class: "name", href: agentHref(config, row.councilor_id) }, row.title, row.task_name && row.task_name !== row.title ? h("small", {}, row.task_name) : null),
      ),
      h("td", { "data-label": labels.schedule }, row.schedule || "—"),
      h(
        "td",
        { "data-label": labels.status, dataset: { field: "status" } },
        running ? h("a", { class: `badge status-${statusKey(row)}`, href: running }, status) : h("span", { class: `badge status-${statusKey(row)}` }, status),
        cancelButton(row),
        ...(row.incidents ?? []).map((kind) => h("span", { class: `badge incident incident-${kind}`, dataset: { incident: kind } }, incidentLabel(kind, gettext))),
      ),
      resultCell(row),
      timeCell(labels.lastRun, "last-run", row.last_run),
      timeCell(labels.nextRun, "next-run", row.enabled ? row.next_run : null),
      canControl ? actionsCell(row) : null,
    );
  }

  function renderAll() {
    const rendered = [...model.values()].map(renderRow);
    const empty = h("tr", { class: "empty" }, h("td", { colspan: 7 }, gettext("No councilors yet. Promote an agent in the admin.")));
    tbody.replaceChildren(...(rendered.length ? rendered : [empty]));
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

  const nameOf = (id) => model.get(id)?.title ?? null;

  function onEvent(envelope) {
    const alert = envelope.type === "system_alert";
    const id = alert ? envelope.data?.details?.councilor_id : envelope.data?.councilor_id;
    if (typeof id !== "string" || !(alert || envelope.type.startsWith("councilor_")) || (alert && !model.has(id))) return;
    const row = model.get(id) ?? rowFromEvent(envelope);
    const next = councilorAfter(row, envelope);
    if (!next) return;
    model.set(id, next);
    update(id, { highlight: !alert });
    if (alert && next.toast) {
      // An incident goes through the councilor's channels: a toast when it has that channel.
      const critical = envelope.data.level === "critical";
      toasts.show({
        title: envelope.data.message,
        tone: critical ? "error" : "warning",
        detail: incidentLabel(envelope.data.details.incident, gettext),
        dataset: { councilorId: id, eventType: envelope.type },
        href: agentHref(config, id),
      });
      return;
    }
    const finished = envelope.type === "councilor_completed" || envelope.type === "councilor_error";
    if (finished && wantsToast(next, next.last_severity) && !willRetry(envelope.data)) {
      const item = tickerItem(envelope, { gettext, nameOf, errorPatterns: config.runErrorPatterns });
      toasts.show({
        title: item.title,
        tone: item.tone,
        detail: next.task_name,
        dataset: { councilorId: id, eventType: envelope.type },
        href: runHref(config, item.executionId),
      });
    }
    if (finished || envelope.type === "councilor_paused" || envelope.type === "councilor_resumed") scheduleRefresh();
  }

  async function onClick(event) {
    const button = event.target.closest("button[data-action], button[data-cancel]");
    if (!button) return;
    const id = button.closest("tr").dataset.councilorId;
    busy.add(id);
    update(id);
    if (button.dataset.cancel) await cancelRun(id, button.dataset.cancel);
    else await sendControl({
      socket,
      action: button.dataset.action,
      councilorId: id,
      name: model.get(id)?.title ?? id,
      toasts,
      href: (executionId) => runHref(config, executionId),
      gettext,
    });
    busy.delete(id);
    update(id);
  }

  renderAll();
  socket.events.on("message", onEvent);
  socket.events.on("state", renderAll); // buttons follow the connection
  if (canControl || canCancel) tbody.addEventListener("click", onClick);
  setInterval(renderAll, CLOCK_MS); // relative times ("in 4 min") move on
  refresh();
  return { reload: refresh, get: (id) => model.get(id), nameOf };
}
