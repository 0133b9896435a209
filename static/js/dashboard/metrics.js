// Agent metrics cards: changed live by agent_metrics_updated, and by the polling fallback while
// the socket is down.

import { flash, h } from "./dom.js";
import { clockTime, formatRate, formatSeconds, relativeTime } from "./format.js";
import { SEVERITY_LABELS, normalizeMetrics } from "./model.js";

const CLOCK_MS = 30000;

export function mountMetrics(list, { socket, agents, metricsUrl, note }) {
  const model = new Map(agents.map((agent) => [agent.agent_id, agent]));

  function stat(label, field, ...value) {
    return h("div", { class: "stat", dataset: { field } }, h("dt", {}, label), h("dd", {}, ...value));
  }

  function renderCard(agent) {
    const m = agent.metrics ?? {};
    const severity = m.last_severity;
    return h(
      "li",
      { class: "agent", dataset: { agentId: agent.agent_id }, style: agent.color ? `--agent-color: ${agent.color}` : null },
      h("div", { class: "agent-head" }, h("span", { class: "avatar", "aria-hidden": "true" }, agent.emoji || "🤖"), h("span", { class: "name" }, agent.name ?? agent.agent_id)),
      h(
        "dl",
        { class: "stats" },
        stat("Runs", "total", String(m.total_executions ?? 0)),
        stat("Success", "success-rate", formatRate(m.success_rate, m.total_executions)),
        stat("Avg time", "avg-duration", m.avg_duration_ms === null || m.avg_duration_ms === undefined ? "—" : formatSeconds(m.avg_duration_ms)),
        stat(
          "Last",
          "last",
          severity ? h("span", { class: `badge severity-${severity}` }, SEVERITY_LABELS[severity] ?? severity) : "—",
          m.last_execution ? h("time", { class: "ago", datetime: m.last_execution, title: m.last_execution }, relativeTime(m.last_execution)) : null,
        ),
      ),
    );
  }

  function renderAll() {
    const cards = [...model.values()].map(renderCard);
    list.replaceChildren(...(cards.length ? cards : [h("li", { class: "empty" }, "No agents yet.")]));
  }

  function apply(agentId, metrics, extra = {}) {
    const agent = { agent_id: agentId, ...model.get(agentId), ...extra, metrics };
    if (!agent.name) agent.name = agentId;
    model.set(agentId, agent);
    const fresh = renderCard(agent);
    const current = [...list.children].find((li) => li.dataset.agentId === agentId);
    if (current) current.replaceWith(fresh);
    else {
      list.querySelector("li.empty")?.remove();
      list.append(fresh);
    }
    flash(fresh);
  }

  /** Every agent's metrics from an HTTP answer (the fallback poll, or a reload). */
  function replace(payload, source) {
    for (const [agentId, metrics] of normalizeMetrics(payload)) {
      const { name, ...values } = metrics;
      const before = JSON.stringify(model.get(agentId)?.metrics ?? null);
      if (before !== JSON.stringify(values)) apply(agentId, values, name ? { name } : {});
    }
    if (note && source) note.textContent = `${source} at ${clockTime()}.`;
  }

  async function reload() {
    try {
      const response = await fetch(metricsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) replace(await response.json(), "Reloaded");
    } catch (error) {
      console.warn("[dashboard] could not load metrics", error);
    }
  }

  renderAll();
  socket.events.on("agent_metrics_updated", ({ data }) => apply(data.agent_id, data.metrics));
  setInterval(renderAll, CLOCK_MS);
  return { replace, reload };
}
