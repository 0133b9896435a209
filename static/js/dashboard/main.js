// The dashboard page: one shared socket, and the parts of the page that listen to it.

import { FallbackPoller, pageGettext, sharedSocket } from "../gamification/index.js";
import { mountBanners } from "./banners.js";
import { mountCouncilors } from "./councilors.js";
import { mountIndicator } from "./indicator.js";
import { mountMetrics } from "./metrics.js";
import { mountTicker } from "./ticker.js";
import { mountToasts } from "./toasts.js";

const gettext = pageGettext;
const config = JSON.parse(document.getElementById("dashboard-config").textContent);
const socket = sharedSocket({ url: config.socketUrl || undefined });

const toasts = mountToasts(document.getElementById("toasts"));
mountBanners(document.getElementById("banners"), { socket, errorPatterns: config.runErrorPatterns });
mountIndicator(document.getElementById("connection"), { socket });
const councilors = mountCouncilors(document.getElementById("councilors"), {
  socket,
  rows: config.councilors,
  canControl: config.canControl,
  canCancel: config.canCancel,
  councilorsUrl: config.councilorsUrl,
  toasts,
  config,
});
// Ticker titles name a councilor as its row does (one name per councilor, even in pause events).
mountTicker(document.getElementById("ticker"), {
  socket,
  limit: config.tickerSize,
  config,
  label: document.getElementById("ticker-label"),
  nameOf: councilors.nameOf,
});
const metrics = mountMetrics(document.getElementById("agents"), {
  socket,
  agents: config.agents,
  metricsUrl: config.metricsUrl,
  note: document.getElementById("metrics-note"),
  config,
});

const poller = new FallbackPoller({
  socket,
  url: config.metricsUrl,
  intervalMs: config.pollIntervalMs,
  onData: (payload) => metrics.replace(payload, gettext("Polled (live updates are reconnecting)")),
  onError: (error) => console.warn("[dashboard] metrics poll failed", error),
}).start();

// The server could not replay everything missed: read the current state from the REST API.
socket.events.on("resync", ({ reason }) => {
  console.info(`[dashboard] reloading state (${reason})`);
  metrics.reload();
  councilors.reload();
});

window.conductor = { socket, poller, config };
