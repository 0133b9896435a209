// The agent page (docs/dashboard.md, "Agent page"): its runs and trend kept live by the page's
// one socket, the staff controls of the dashboard, and the run form.

import { pageGettext, sharedSocket } from "../gamification/index.js";
import { renderTrend } from "../charts/trend.js";
import { controlButtons, sendControl } from "../dashboard/controls.js";
import { mountIndicator } from "../dashboard/indicator.js";
import { runHref } from "../dashboard/links.js";
import { agentIdOf, trendPointOf, trendWith } from "../dashboard/model.js";
import { mountToasts } from "../dashboard/toasts.js";
import { mountRunForm } from "./runform.js";
import { mountRuns } from "./runs.js";

const config = JSON.parse(document.getElementById("agent-config").textContent);
const $ = (id) => document.getElementById(id);
const gettext = pageGettext;
const socket = sharedSocket({ url: config.socketUrl || undefined });
const toasts = mountToasts($("toasts"));
const hrefOfRun = (executionId) => runHref(config, executionId);

mountIndicator($("connection"), { socket });
mountRuns($("runs"), { socket, config });

let trend = config.trend;
const drawTrend = () => renderTrend($("trend"), trend, { href: hrefOfRun, height: 220 });
drawTrend();
socket.events.on("message", (envelope) => {
  const point = agentIdOf(envelope) === config.agentId ? trendPointOf(envelope) : null;
  if (!point) return;
  trend = trendWith(trend, point, config.trendSize);
  drawTrend();
});

const form = $("run-form");
if (form) mountRunForm(form, { executeUrl: config.executeUrl, runHref: hrefOfRun });

const controls = $("agent-controls");
if (controls) {
  let enabled = config.enabled;
  let busy = false;
  const status = $("agent-enabled");
  const render = () => controls.replaceChildren(...controlButtons({ enabled, disabled: busy || !socket.isConnected(), gettext }));
  controls.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    busy = true;
    render();
    await sendControl({ socket, action: button.dataset.action, councilorId: config.councilorId, name: $("agent-heading").textContent.trim(), toasts, href: hrefOfRun, gettext });
    busy = false;
    render();
  });
  socket.events.on("message", (envelope) => {
    const toggled = { councilor_paused: false, councilor_resumed: true }[envelope.type];
    if (toggled === undefined || envelope.data?.councilor_id !== config.councilorId || envelope.data.success === false) return;
    enabled = toggled;
    status.dataset.enabled = String(enabled);
    status.textContent = enabled ? gettext("Active") : gettext("Paused");
    render();
  });
  socket.events.on("state", render);
  render();
}

window.conductor = { socket, config };
