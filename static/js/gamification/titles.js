// The events layer: turns event envelopes (docs/protocol.md, "Events") into ticker items with the
// titles of docs/dashboard.md, "The live dashboard".
// Pure functions, shared by the dashboard and the unit tests.

export const STARTED_ICON = "🏛️";
export const AGENT_STARTED_ICON = "🤖";
export const SEVERITY = Object.freeze({
  success: { icon: "✅", label: "Success" },
  warning: { icon: "⚠️", label: "Warning" },
  error: { icon: "❌", label: "Error" },
});
export const ALERT_ICONS = Object.freeze({ info: "ℹ️", warning: "⚠️", critical: "🚨" });
export const PAUSED_ICON = "⏸️";
export const RESUMED_ICON = "▶️";

/** "15s", "1.2s", "0.3s": whole seconds from 10 s up, one decimal below (no trailing ".0"). */
export function formatSeconds(durationMs) {
  const seconds = Math.max(0, Number(durationMs) || 0) / 1000;
  const rounded = seconds >= 10 ? Math.round(seconds) : Math.round(seconds * 10) / 10;
  return `${rounded}s`;
}

function severityOf(value) {
  return SEVERITY[value] ? value : "error";
}

function completedTitle(name, severity, durationMs) {
  const { icon, label } = SEVERITY[severity];
  return `${icon} ${name} - ${label} (${formatSeconds(durationMs)})`;
}

function errorTitle(name, message) {
  return `${SEVERITY.error.icon} ${name} - Error: ${message}`;
}

const BUILDERS = {
  councilor_started: (d) => ({ title: `${STARTED_ICON} ${d.task_name} - starting analysis…`, tone: "running" }),
  councilor_completed: (d) => {
    const severity = severityOf(d.severity);
    return { title: completedTitle(d.display_name || d.task_name, severity, d.duration_ms), tone: severity };
  },
  councilor_error: (d) => ({ title: errorTitle(d.task_name, d.error), tone: "error" }),
  agent_execution_started: (d) => ({
    title: `${AGENT_STARTED_ICON} ${d.agent_name} - starting…`,
    tone: "running",
  }),
  agent_execution_completed: (d) => {
    if (d.status === "error" && d.error) return { title: errorTitle(d.agent_name, d.error), tone: "error" };
    const severity = severityOf(d.severity);
    return { title: completedTitle(d.agent_name, severity, d.duration_ms), tone: severity };
  },
  system_alert: (d) => ({
    title: `${ALERT_ICONS[d.level] ?? ALERT_ICONS.info} ${d.message}`,
    tone: d.level === "critical" ? "critical" : d.level === "warning" ? "warning" : "info",
  }),
  councilor_paused: (d) => ({ title: `${PAUSED_ICON} ${d.councilor_id} - paused by ${d.by}`, tone: "info" }),
  councilor_resumed: (d) => ({ title: `${RESUMED_ICON} ${d.councilor_id} - resumed by ${d.by}`, tone: "info" }),
};

/**
 * The ticker item for an envelope, or null for events the ticker does not show (metrics,
 * replies). `avatar` is the agent's own emoji when the event carries one.
 */
export function tickerItem(envelope) {
  const build = BUILDERS[envelope?.type];
  if (!build || !envelope.data) return null;
  const { title, tone } = build(envelope.data);
  return {
    title,
    tone,
    type: envelope.type,
    id: envelope.id ?? null,
    timestamp: envelope.timestamp ?? null,
    avatar: envelope.data.emoji || null,
    source: envelope.type === "system_alert" ? envelope.data.source : null,
  };
}

export const TICKER_TYPES = Object.freeze(Object.keys(BUILDERS));
