// The events layer: turns event envelopes (docs/protocol.md, "Events") into ticker items with the
// titles of docs/dashboard.md, "The live dashboard", in the page's language.
// Pure functions, shared by the dashboard and the unit tests: `gettext` is injectable.

import { runErrorText } from "./errors.js";
import { formatDuration, pageLocale } from "./format.js";
import { interpolate, pageGettext } from "./i18n.js";

export const STARTED_ICON = "🏛️";
export const AGENT_STARTED_ICON = "🤖";
export const SEVERITY_ICONS = Object.freeze({ success: "✅", warning: "⚠️", error: "❌" });
export const ALERT_ICONS = Object.freeze({ info: "ℹ️", warning: "⚠️", critical: "🚨" });
export const PAUSED_ICON = "⏸️";
export const RESUMED_ICON = "▶️";
export const CANCELLED_ICON = "⏹️";
export const TIMED_OUT_ICON = "⌛";

/** "15s", "1.2s", "0.3s", "23ms" (static/js/gamification/format.js formatDuration, in the page's language). */
export function formatSeconds(durationMs, options = {}) {
  return formatDuration(durationMs, options);
}

/** A severity's label in the page's language: Success / Warning / Error (Sucesso / Aviso / Erro). */
export function severityLabel(severity, gettext = pageGettext) {
  if (severity === "success") return gettext("Success");
  if (severity === "warning") return gettext("Warning");
  if (severity === "error") return gettext("Error");
  return severity ?? "";
}

function severityOf(value) {
  return SEVERITY_ICONS[value] ? value : "error";
}

/**
 * The one name a councilor goes by in titles: its display name (the councilor's title) when the
 * event carries it, else what the page knows of it (`nameOf`), else its id.
 */
function councilorName(data, nameOf) {
  return numbered(data.display_name || nameOf(data.councilor_id) || data.councilor_id, data);
}

/** `Heartbeat #128` when the event carries the run's number (docs/protocol.md, "Events"). */
export function numbered(name, data) {
  return Number.isInteger(data?.run_number) ? `${name} #${data.run_number}` : name;
}

/** A run that did not complete: cancelled (by whom), timed out, or failed; null for one that completed. */
function notCompleted(name, d, gettext) {
  if (d.status === "cancelled") {
    const template = d.cancelled_by ? gettext("%(name)s - cancelled by %(user)s") : gettext("%(name)s - cancelled");
    return { title: `${CANCELLED_ICON} ${interpolate(template, { name, user: d.cancelled_by })}`, tone: "neutral" };
  }
  if (d.status === "timed_out") {
    return { title: `${TIMED_OUT_ICON} ${interpolate(gettext("%(name)s - timed out"), { name })}`, tone: "error" };
  }
  return null;
}

function completed(name, severity, durationMs, gettext, locale) {
  const title = interpolate(gettext("%(name)s - %(label)s (%(duration)s)"), {
    name,
    label: severityLabel(severity, gettext),
    duration: formatDuration(durationMs, { gettext, locale }),
  });
  return { title: `${SEVERITY_ICONS[severity]} ${title}`, tone: severity };
}

/**
 * "❌ <task> - Error: <message>", the message in the page's language (`errorText`). A reader who may
 * not see the run's details gets its public shape (docs/protocol.md, "Private run details"): the
 * error emptied and `details_withheld`, which the title says instead of ending on "Error: ".
 */
function failed(name, data, gettext, errorText) {
  const message = data.error ? errorText(data.error) : "";
  let title;
  if (message) title = interpolate(gettext("%(name)s - Error: %(message)s"), { name, message });
  else if (data.details_withheld) title = interpolate(gettext("%(name)s - Error (details not shown to you)"), { name });
  else title = interpolate(gettext("%(name)s - Error"), { name });
  return { title: `${SEVERITY_ICONS.error} ${title}`, tone: "error" };
}

const BUILDERS = {
  councilor_started: (d, { gettext, nameOf }) => ({
    // In Portuguese "Iniciando análise...", as the original client; in English a neutral "started".
    title: `${STARTED_ICON} ${interpolate(gettext("%(name)s - started"), { name: councilorName(d, nameOf) })}`,
    tone: "running",
  }),
  councilor_completed: (d, { gettext, nameOf, locale }) =>
    completed(councilorName(d, nameOf), severityOf(d.severity), d.duration_ms, gettext, locale),
  councilor_error: (d, { gettext, nameOf, errorText }) => {
    const name = councilorName(d, nameOf);
    return notCompleted(name, d, gettext) ?? failed(name, d, gettext, errorText);
  },
  agent_execution_started: (d, { gettext }) => ({
    title: `${AGENT_STARTED_ICON} ${interpolate(gettext("%(name)s - run started"), { name: numbered(d.agent_name, d) })}`,
    tone: "running",
  }),
  agent_execution_completed: (d, { gettext, locale, errorText }) => {
    const name = numbered(d.agent_name, d);
    const ended = notCompleted(name, d, gettext);
    if (ended) return ended;
    if (d.status === "error" && (d.error || d.details_withheld)) return failed(name, d, gettext, errorText);
    return completed(name, severityOf(d.severity), d.duration_ms, gettext, locale);
  },
  system_alert: (d, { errorText }) => ({
    // The project's own alerts (a failure streak, workers down) in the page's language; others as sent.
    title: `${ALERT_ICONS[d.level] ?? ALERT_ICONS.info} ${errorText(d.message ?? "")}`,
    tone: d.level === "critical" ? "critical" : d.level === "warning" ? "warning" : "info",
  }),
  councilor_paused: (d, { gettext, nameOf }) => ({
    title: `${PAUSED_ICON} ${interpolate(gettext("%(name)s - paused by %(user)s"), { name: councilorName(d, nameOf), user: d.by })}`,
    tone: "info",
  }),
  councilor_resumed: (d, { gettext, nameOf }) => ({
    title: `${RESUMED_ICON} ${interpolate(gettext("%(name)s - resumed by %(user)s"), { name: councilorName(d, nameOf), user: d.by })}`,
    tone: "info",
  }),
};

/**
 * The ticker item for an envelope, or null for events the ticker does not show (metrics,
 * replies). `avatar` is the agent's own emoji when the event carries one; `executionId` and
 * `agentId` say which run or agent page the item opens. Options: `gettext` (the page's catalogue
 * by default), `nameOf(councilorId)` (the name the page knows a councilor by) and `errorPatterns`
 * (the server's table of its own error texts, `runErrorPatterns`: a run's error in the page's language).
 */
export function tickerItem(
  envelope,
  { gettext = pageGettext, nameOf = () => null, locale = pageLocale(), errorPatterns = [] } = {},
) {
  const build = BUILDERS[envelope?.type];
  if (!build || !envelope.data) return null;
  const data = envelope.data;
  const errorText = (error) => runErrorText(error, errorPatterns);
  const { title, tone } = build(data, { gettext, nameOf, locale, errorText });
  return {
    title,
    tone,
    type: envelope.type,
    id: envelope.id ?? null,
    timestamp: envelope.timestamp ?? null,
    avatar: data.emoji || null,
    source: envelope.type === "system_alert" ? data.source : null,
    executionId: data.execution_id ?? null,
    agentId: data.councilor_id ?? data.agent_id ?? null,
  };
}

export const TICKER_TYPES = Object.freeze(Object.keys(BUILDERS));
