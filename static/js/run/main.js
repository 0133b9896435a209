// The run page (docs/dashboard.md, "Run page"): the server rendered the output so far (lines
// 1..lastLine); while the run goes on, the rest streams in over Server-Sent Events
// (/api/v1/stream, docs/http-api.md), starting after lastLine. EventSource reconnects by itself
// with Last-Event-ID, so a dropped connection resumes where it stopped. The verdict, the duration
// (counting up while the run goes on) and the error change in place; at the end the last line is
// brought into view.

import { NOTHING, formatDuration } from "../gamification/format.js";
import { runErrorText } from "../gamification/errors.js";
import { pageGettext } from "../gamification/i18n.js";
import { paintVerdict } from "../gamification/verdict.js";
import { localDateTime } from "../dashboard/format.js";
import { OutputView } from "./output.js";

const config = JSON.parse(document.getElementById("run-config").textContent);
const $ = (id) => document.getElementById(id);
const gettext = pageGettext;
const ELAPSED_TICK_MS = 250;
const output = new OutputView($("output"), {
  count: $("line-count"),
  empty: $("output-empty"),
  waiting: $("output-waiting"),
  searchCount: $("search-count"),
});
let state = { status: config.status, severity: config.severity, startedAt: config.startedAt };
let elapsedTimer = null;

function showVerdict(status, severity) {
  state = { ...state, status, severity };
  if (status !== "queued" && status !== "running") $("run-cancel")?.remove();
  paintVerdict($("run-status"), status, severity, gettext);
  $("run").dataset.status = status;
  $("run-duration").dataset.running = String(status === "running");
  if (status === "running") startElapsed();
  else stopElapsed();
}

/** While the run goes on, its duration counts up from its start (the server's clock, read from the record). */
function startElapsed() {
  if (elapsedTimer !== null || !state.startedAt) return;
  const started = Date.parse(state.startedAt);
  const tick = () => {
    $("run-duration").textContent = formatDuration(Math.max(0, Date.now() - started));
  };
  tick();
  elapsedTimer = setInterval(tick, ELAPSED_TICK_MS);
}

function stopElapsed() {
  clearInterval(elapsedTimer);
  elapsedTimer = null;
}

function showDuration(durationMs) {
  if (durationMs === null || durationMs === undefined) return;
  stopElapsed();
  $("run-duration").textContent = formatDuration(durationMs);
}

function showTime(id, iso) {
  if (!iso) return;
  const time = document.createElement("time");
  time.dateTime = iso;
  time.textContent = localDateTime(iso);
  $(id).replaceChildren(time);
}

function showError(error) {
  const element = $("run-error");
  element.textContent = runErrorText(error, config.runErrorPatterns);
  element.hidden = !error;
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function say(text) {
  const message = $("run-cancel-message");
  message.textContent = text;
  message.hidden = !text;
}

/** Cancel (docs/http-api.md, "Cancel it"): the answer is said beside the button; the end arrives by the stream. */
function mountCancel() {
  const button = $("run-cancel");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.textContent = gettext("Stopping…");
    try {
      const response = await fetch(config.cancelUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      });
      const body = await response.json().catch(() => ({}));
      say(body.detail ?? "");
      if (response.status === 409) button.remove();
      else if (!response.ok) {
        button.disabled = false;
        button.textContent = gettext("Cancel run");
      } else if (body.outcome === "cancelled") refreshDetails();
    } catch (error) {
      say(gettext("Could not reach the server; try again."));
      button.disabled = false;
      button.textContent = gettext("Cancel run");
    }
  });
}

/** Prompt, requester, times and result from the API (after a queued run started, and once it ended). */
async function refreshDetails() {
  try {
    const response = await fetch(config.detailUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const run = await response.json();
    if (run.status === "queued") return;
    if (typeof run.prompt === "string") $("run-prompt").textContent = run.prompt;
    if (run.started_at) state.startedAt = run.started_at;
    showTime("run-started", run.started_at);
    showTime("run-completed", run.completed_at);
    if (run.cancelled_by) {
      $("run-cancelled-by").querySelector("dd").textContent = run.cancelled_by;
      $("run-cancelled-by").hidden = false;
    }
    if (run.status === "running") startElapsed();
    else {
      showDuration(run.duration_ms);
      showVerdict(run.status, run.severity);
      showError(run.error);
    }
  } catch (error) {
    console.warn("[run] could not load the run's details", error);
  }
}

function setStreamState(stream) {
  $("stream-state").dataset.state = stream;
  const labels = { open: gettext("live"), reconnecting: gettext("reconnecting…"), ended: "", failed: gettext("live output unavailable") };
  $("stream-state").textContent = labels[stream] ?? "";
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
      showVerdict("running", "");
      refreshDetails();
    }
    output.append(Number(event.lastEventId), event.data);
  });
  source.addEventListener("end", (event) => {
    source.close();
    const end = JSON.parse(event.data);
    showVerdict(end.status, end.severity);
    showError(end.error);
    showDuration(end.duration_ms);
    setStreamState("ended");
    output.finish();
    refreshDetails();
  });
  return source;
}

function mountTools() {
  const search = $("output-search");
  search.addEventListener("input", () => output.search(search.value));
  search.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    output.next();
  });
  const times = $("output-times");
  const sync = () => {
    // Times are known for lines published live (while the run's stream lives): offered when there are some.
    times.disabled = !output.hasTimes() && !config.live;
    times.closest("label").title = times.disabled ? gettext("The times of these lines are no longer kept.") : "";
  };
  times.addEventListener("change", () => output.showTimes(times.checked));
  sync();
}

mountTools();
mountCancel();
if (state.status === "running") startElapsed();
if (!config.live && $("run-duration").textContent === "") $("run-duration").textContent = NOTHING;
const source = config.live ? follow() : null;
window.conductor = { config, output, source };
