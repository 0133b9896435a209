// The dashboard's state and how each event changes it. Pure (no DOM), unit-tested in node.

import { interpolate, pageGettext } from "../gamification/i18n.js";

/** The row after `envelope`, or null when the event does not concern councilor rows. */
export function councilorAfter(row, envelope) {
  const d = envelope.data ?? {};
  switch (envelope.type) {
    case "councilor_started":
      // A run started: the councilor is no longer late, and missed slots are being caught up.
      return { ...row, status: "running", running_execution_id: d.execution_id, queue_place: null, last_run: d.started_at, incidents: withoutIncidents(row, ["late", "missed"]) };
    case "councilor_completed":
    case "councilor_error": {
      // A finished run only clears "running" if it is the run shown (or none is known).
      const newerRunning = Boolean(row.running_execution_id) && row.running_execution_id !== d.execution_id;
      return {
        ...row,
        status: newerRunning ? row.status : "idle",
        running_execution_id: newerRunning ? row.running_execution_id : null,
        last_execution_id: d.execution_id,
        last_severity: envelope.type === "councilor_error" ? "error" : d.severity,
        last_status: d.status ?? (envelope.type === "councilor_error" ? "error" : "completed"),
        last_duration_ms: d.duration_ms ?? null,
        last_error: envelope.type === "councilor_error" ? d.error : null,
        last_run: newerRunning ? row.last_run : (d.started_at ?? row.last_run),
        incidents: newerRunning ? (row.incidents ?? []) : withoutIncidents(row, ["stuck"]),
      };
    }
    case "councilor_paused":
      return d.success === false ? row : { ...row, enabled: false };
    case "councilor_resumed":
      return d.success === false ? row : { ...row, enabled: true };
    case "system_alert": {
      // A late, stuck or missed incident (councilors/incidents.py) names its councilor and kind.
      const kind = d.details?.incident;
      if (!INCIDENT_KINDS.includes(kind) || d.details?.councilor_id !== row.councilor_id) return null;
      const known = row.incidents ?? [];
      return known.includes(kind) ? row : { ...row, incidents: [...known, kind] };
    }
    default:
      return null;
  }
}

export const INCIDENT_KINDS = ["late", "stuck", "missed"];

function withoutIncidents(row, kinds) {
  return (row.incidents ?? []).filter((kind) => !kinds.includes(kind));
}

/** What an incident badge says, in the page's language. */
export function incidentLabel(kind, gettext = pageGettext) {
  if (kind === "late") return gettext("Late");
  if (kind === "stuck") return gettext("Stuck");
  return gettext("Missed runs");
}

/** A row for a councilor first heard of in an event (created after the page loaded). */
export function rowFromEvent(envelope) {
  const d = envelope.data ?? {};
  return {
    councilor_id: d.councilor_id,
    title: d.display_name || d.councilor_id,
    task_name: d.task_name || "",
    emoji: d.emoji || "🏛️",
    enabled: true,
    schedule: "",
    toast: null,
    status: "idle",
    running_execution_id: null,
    last_execution_id: null,
    last_severity: null,
    last_duration_ms: null,
    last_run: null,
    next_run: null,
    incidents: [],
  };
}

/** Which status a row shows: running (or queued) beats paused beats active. */
export function statusKey(row) {
  if (row.status === "running" || row.status === "queued") return row.status;
  return row.enabled ? "active" : "paused";
}

/** What the status cell says, in the page's language. */
export function statusLabel(row, gettext = pageGettext) {
  const key = statusKey(row);
  if (key === "running") return gettext("Running…");
  if (key === "queued") {
    return row.queue_place ? interpolate(gettext("Queued (#%(place)s in line)"), { place: row.queue_place }) : gettext("Queued");
  }
  return key === "active" ? gettext("Active") : gettext("Paused");
}

/** A trend point (docs/dashboard.md, "Trends") for a finished run's event, or null for other events. */
export function trendPointOf(envelope) {
  const d = envelope.data ?? {};
  const finished = ["councilor_completed", "councilor_error", "agent_execution_completed"];
  if (!finished.includes(envelope.type) || !d.execution_id) return null;
  return {
    execution_id: d.execution_id,
    started_at: d.started_at ?? null,
    duration_ms: d.duration_ms ?? 0,
    severity: envelope.type === "councilor_error" ? "error" : d.severity,
  };
}

/** The agent a run event is about (a councilor's id is its agent's id). */
export function agentIdOf(envelope) {
  return envelope.data?.councilor_id ?? envelope.data?.agent_id ?? null;
}

/** `points` with `point` added (once) at the end, keeping the newest `limit`. */
export function trendWith(points, point, limit) {
  if (points.some((known) => known.execution_id === point.execution_id)) return points;
  return [...points, point].slice(-limit);
}

/**
 * Whether a finished councilor run will be tried again (an error or timeout before its last attempt):
 * its notification waits for the final outcome (docs/scheduling.md, "Retries").
 */
export function willRetry(data) {
  const failed = data?.status === "error" || data?.status === "timed_out";
  return failed && Number.isInteger(data.attempt) && Number.isInteger(data.max_attempts) && data.attempt < data.max_attempts;
}

/** Whether a finished run of this councilor pops a toast (its channels include `toast`). */
export function wantsToast(row, severity) {
  return Boolean(row?.toast && row.toast[severity]);
}

/**
 * Agent metrics keyed by agent_id, from any of the shapes an API may answer with:
 * {agent_id: metrics}, [{agent_id, metrics}], [{agent_id, ...metrics}], or those under a key.
 */
export function normalizeMetrics(payload) {
  const list = Array.isArray(payload) ? payload : (payload?.agents ?? payload?.items ?? payload?.results);
  const out = new Map();
  if (Array.isArray(list)) {
    for (const item of list) {
      if (item?.agent_id) out.set(item.agent_id, { ...(item.metrics ?? item), name: item.agent_name ?? item.name });
    }
  } else if (payload && typeof payload === "object") {
    for (const [agentId, metrics] of Object.entries(payload)) {
      if (metrics && typeof metrics === "object") out.set(agentId, metrics.metrics ?? metrics);
    }
  }
  return out;
}

/** Councilors from /api/councilors as a list, whether bare or under a key. */
export function normalizeCouncilors(payload) {
  const list = Array.isArray(payload) ? payload : (payload?.councilors ?? payload?.items ?? payload?.results ?? []);
  return list.filter((item) => item && typeof item.councilor_id === "string");
}

/** The next run time a councilor from /api/councilors carries, whatever its field is called. */
export function nextRunOf(item) {
  return item.next_run ?? item.next_run_at ?? item.schedule?.next_run ?? null;
}

/**
 * What a councilor from /api/councilors says about a row: next run, enabled, and (when the API
 * gives it as an object) the last run — enough to catch up after events could not be replayed.
 */
export function rowFromApi(item) {
  const fields = { next_run: nextRunOf(item) };
  if (typeof item.enabled === "boolean") fields.enabled = item.enabled;
  if (Array.isArray(item.incidents)) fields.incidents = item.incidents.filter((kind) => INCIDENT_KINDS.includes(kind));
  const last = item.last_run;
  if (last && typeof last === "object") {
    const running = last.status === "running" || last.status === "queued";
    Object.assign(fields, {
      status: running ? last.status : "idle",
      running_execution_id: running ? last.execution_id : null,
      last_execution_id: last.execution_id ?? null,
      last_run: last.started_at ?? null,
      ...(running ? {} : { last_severity: last.severity ?? null, last_status: last.status ?? null, last_duration_ms: last.duration_ms ?? null }),
    });
  }
  return fields;
}
