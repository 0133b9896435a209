// Agent metrics cards: changed live by agent_metrics_updated, and by the polling fallback while
// the socket is down. Each card opens the agent's page and draws the trend of its latest runs.

import { interpolate, pageGettext } from "../gamification/i18n.js";
import { severityLabel } from "../gamification/titles.js";
import { renderTrend } from "../charts/trend.js";
import { flash, h } from "./dom.js";
import { clockTime, formatRate, formatSeconds, relativeTime } from "./format.js";
import { agentHref, runHref } from "./links.js";
import { agentIdOf, normalizeMetrics, trendPointOf, trendWith } from "./model.js";

const CLOCK_MS = 30000;

export function mountMetrics(list, { socket, agents, metricsUrl, note, config, gettext = pageGettext }) {
  const model = new Map(agents.map((agent) => [agent.agent_id, agent]));

  function stat(label, field, ...value) {
    return h("div", { class: "stat", dataset: { field } }, h("dt", {}, label), h("dd", {}, ...value));
  }

  function renderCard(agent) {
    const m = agent.metrics ?? {};
    const severity = m.last_severity;
    const trend = h("figure", { class: "trend trend-small", dataset: { field: "trend" } });
    // Drawn once the card is on the page (uPlot measures the figure's width).
    requestAnimationFrame(() => renderTrend(trend, agent.trend ?? [], { href: (id) => runHref(config, id), height: 44, compact: true, gettext }));
    const card = h(
      "li",
      { class: "agent", dataset: { agentId: agent.agent_id } },
      h(
        "a",
        { class: "agent-head", href: agentHref(config, agent.agent_id) },
        h("span", { class: "avatar", "aria-hidden": "true" }, agent.emoji || "🤖"),
        h("span", { class: "name" }, agent.name ?? agent.agent_id),
      ),
      h(
        "dl",
        { class: "stats" },
        stat(gettext("Runs"), "total", String(m.total_executions ?? 0)),
        stat(gettext("Success"), "success-rate", formatRate(m.success_rate, m.total_executions)),
        stat(gettext("Avg time"), "avg-duration", m.avg_duration_ms === null || m.avg_duration_ms === undefined ? "—" : formatSeconds(m.avg_duration_ms)),
        stat(
          gettext("Last"),
          "last",
          severity ? h("span", { class: `badge severity-${severity}` }, severityLabel(severity, gettext)) : "—",
          m.last_execution ? h("time", { class: "ago", datetime: m.last_execution, title: m.last_execution }, relativeTime(m.last_execution, Date.now(), gettext)) : null,
        ),
      ),
      trend,
    );
    // Through the CSSOM: the Content-Security-Policy refuses style attributes.
    if (agent.color) card.style.setProperty("--agent-color", agent.color);
    return card;
  }

  function renderAll() {
    const cards = [...model.values()].map(renderCard);
    list.replaceChildren(...(cards.length ? cards : [h("li", { class: "empty" }, gettext("No agents yet."))]));
  }

  function show(agentId, { highlight = true } = {}) {
    const fresh = renderCard(model.get(agentId));
    const current = [...list.children].find((li) => li.dataset.agentId === agentId);
    if (current) current.replaceWith(fresh);
    else {
      list.querySelector("li.empty")?.remove();
      list.append(fresh);
    }
    if (highlight) flash(fresh);
  }

  function apply(agentId, metrics, extra = {}) {
    const agent = { agent_id: agentId, trend: [], ...model.get(agentId), ...extra, metrics };
    if (!agent.name) agent.name = agentId;
    model.set(agentId, agent);
    show(agentId);
  }

  /** A finished run adds its bar to its agent's trend. */
  function onRunFinished(envelope) {
    const point = trendPointOf(envelope);
    const agentId = agentIdOf(envelope);
    if (!point || !model.has(agentId)) return;
    const agent = model.get(agentId);
    model.set(agentId, { ...agent, trend: trendWith(agent.trend ?? [], point, config.trendSize ?? 30) });
    show(agentId, { highlight: false });
  }

  /** Every agent's metrics from an HTTP answer (the fallback poll, or a reload). */
  function replace(payload, source) {
    for (const [agentId, metrics] of normalizeMetrics(payload)) {
      const { name, ...values } = metrics;
      const before = JSON.stringify(model.get(agentId)?.metrics ?? null);
      if (before !== JSON.stringify(values)) apply(agentId, values, name ? { name } : {});
    }
    if (note && source) note.textContent = interpolate(gettext("%(source)s at %(time)s."), { source, time: clockTime() });
  }

  async function reload() {
    try {
      const response = await fetch(metricsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) replace(await response.json(), gettext("Reloaded"));
    } catch (error) {
      console.warn("[dashboard] could not load metrics", error);
    }
  }

  renderAll();
  socket.events.on("agent_metrics_updated", ({ data }) => apply(data.agent_id, data.metrics));
  socket.events.on("message", onRunFinished);
  setInterval(renderAll, CLOCK_MS);
  return { replace, reload };
}
