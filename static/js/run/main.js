// The run page (docs/dashboard.md, "Run page"): the server rendered the output so far (lines
// 1..lastLine); while the run goes on, the rest streams in over Server-Sent Events
// (/api/v1/stream, docs/http-api.md), starting after lastLine. EventSource reconnects by itself
// with Last-Event-ID, so a dropped connection resumes where it stopped. At `end` the badges and
// timings change in place.

import { pageGettext } from "../gamification/i18n.js";
import { formatSeconds, severityLabel } from "../gamification/titles.js";
import { localDateTime } from "../dashboard/format.js";
import { OutputView } from "./output.js";

const config = JSON.parse(document.getElementById("run-config").textContent);
const $ = (id) => document.getElementById(id);
const gettext = pageGettext;
const output = new OutputView($("output"), { count: $("line-count"), empty: $("output-empty") });
const STATUS_LABELS = {
  queued: () => gettext("Queued"),
  running: () => gettext("Running"),
  completed: () => gettext("Completed"),
  error: () => gettext("Error"),
};

function showStatus(status) {
  const badge = $("run-status");
  badge.className = `badge status-${status}`;
  badge.dataset.status = status;
  badge.textContent = STATUS_LABELS[status]?.() ?? status;
  $("run").dataset.status = status;
}

function showSeverity(severity) {
  const badge = $("run-severity");
  badge.className = `badge severity-${severity || "none"}`;
  badge.dataset.severity = severity || "";
  badge.textContent = severity ? severityLabel(severity, gettext) : "—";
}

function showTime(id, iso) {
  const cell = $(id);
  if (!iso) return;
  const time = document.createElement("time");
  time.dateTime = iso;
  time.textContent = localDateTime(iso);
  cell.replaceChildren(time);
}

function showError(error) {
  const element = $("run-error");
  element.textContent = error || "";
  element.hidden = !error;
}

/** Prompt, times and result from the API (after a queued run started, and once it ended). */
async function refreshDetails() {
  try {
    const response = await fetch(config.detailUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const run = await response.json();
    if (run.status === "queued") return;
    if (typeof run.prompt === "string") $("run-prompt").textContent = run.prompt;
    showTime("run-started", run.started_at);
    showTime("run-completed", run.completed_at);
    if (run.duration_ms !== null && run.duration_ms !== undefined) $("run-duration").textContent = formatSeconds(run.duration_ms);
    if (run.status !== "running") {
      showStatus(run.status);
      showSeverity(run.severity);
      showError(run.error);
    }
  } catch (error) {
    console.warn("[run] could not load the run's details", error);
  }
}

function setStreamState(state) {
  $("stream-state").dataset.state = state;
  const labels = { open: gettext("live"), reconnecting: gettext("reconnecting…"), ended: "", failed: gettext("live output unavailable") };
  $("stream-state").textContent = labels[state] ?? "";
}

function follow() {
  const url = new URL(config.streamUrl, window.location.href);
  url.searchParams.set("execution_id", config.executionId);
  // Lines 1..lastLine are on the page already; a reconnect's Last-Event-ID header supersedes this.
  if (config.lastLine) url.searchParams.set("last_event_id", String(config.lastLine));
  const source = new EventSource(url);
  let started = config.status !== "queued";
  source.onopen = () => setStreamState("open");
  source.onerror = () => setStreamState(source.readyState === EventSource.CLOSED ? "failed" : "reconnecting");
  source.addEventListener("output", (event) => {
    if (!started) {
      started = true;
      showStatus("running");
      refreshDetails();
    }
    output.append(Number(event.lastEventId), event.data);
  });
  source.addEventListener("end", (event) => {
    source.close();
    const end = JSON.parse(event.data);
    output.finish();
    showStatus(end.status);
    showSeverity(end.severity);
    showError(end.error);
    if (end.duration_ms !== null && end.duration_ms !== undefined) $("run-duration").textContent = formatSeconds(end.duration_ms);
    setStreamState("ended");
    refreshDetails();
  });
  return source;
}

const source = config.live ? follow() : null;
window.conductor = { config, output, source };
