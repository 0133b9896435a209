// The trend chart (docs/dashboard.md, "Trends"), drawn with uPlot (static/vendor/uplot/, MIT,
// vendored: no CDN): one bar per finished run, oldest on the left, its height the run's duration
// (left axis), its colour the severity; the success rate over a moving window as a line (right
// axis, %); the runs' start times along the bottom. Hovering shows the run (id, time, duration,
// severity, rate); clicking opens its run page. The same chart, without axes, is each dashboard
// card's sparkline. `trendSeries` shapes the data (pure, node-tested); `renderTrend` draws.
// Every run is also listed (visually hidden) as a link with class `mark`, for screen readers,
// keyboards and the browser tests.

import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { formatClock, formatDateTime, formatDuration, formatMilliseconds } from "../gamification/format.js";
import { interpolate, pageGettext } from "../gamification/i18n.js";
import { severityLabel } from "../gamification/titles.js";

/** Runs the success rate is averaged over at each point. */
export const RATE_WINDOW = 10;
export const SEVERITIES = Object.freeze(["success", "warning", "error"]);

/** A run counts as a success unless its severity is `error` (as the agent metrics count it). */
export function succeeded(point) {
  return point.severity !== "error";
}

/** The success rate (%) at each point: of that run and the RATE_WINDOW - 1 before it. */
export function successRates(points, window = RATE_WINDOW) {
  return points.map((_point, index) => {
    const span = points.slice(Math.max(0, index - window + 1), index + 1);
    return (100 * span.filter(succeeded).length) / span.length;
  });
}

/**
 * uPlot's columns for `points`: x (the run's place, 0..n-1), one duration column per severity (in
 * seconds; null where the run has another severity, so each bar takes its severity's colour), and
 * the success rate.
 */
export function trendSeries(points, window = RATE_WINDOW) {
  const x = points.map((_point, index) => index);
  const bySeverity = SEVERITIES.map((severity) => points.map((point) => (point.severity === severity ? (point.duration_ms || 0) / 1000 : null)));
  return [x, ...bySeverity, successRates(points, window)];
}

function cssColor(name, fallback) {
  const value = globalThis.getComputedStyle?.(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function tooltipText(point, rate, gettext) {
  return [
    point.execution_id,
    point.started_at ? formatDateTime(point.started_at) : null,
    `${formatDuration(point.duration_ms, { gettext })} · ${severityLabel(point.severity, gettext)}`,
    interpolate(gettext("success rate %(rate)s"), { rate: `${Math.round(rate)} %` }),
  ].filter(Boolean);
}

/**
 * The duration axis' labels for ticks at `splits` seconds. Durations are rounded as people read them
 * (0.25 s reads "0.2s"), which can give two ticks one label; then every tick is written in milliseconds
 * ("250ms", "200ms"), exact at any step below ten seconds.
 */
export function durationTicks(splits, { gettext = pageGettext, locale = undefined } = {}) {
  const labels = splits.map((seconds) => formatDuration(seconds * 1000, { gettext, locale }));
  if (new Set(labels).size === labels.length || Math.max(...splits) >= 10) return labels;
  return splits.map((seconds) => formatMilliseconds(seconds * 1000, { gettext, locale }));
}

function axisColors() {
  return { stroke: cssColor("--muted", "#5f6678"), grid: { stroke: cssColor("--line", "#e3e6ee"), width: 1 }, ticks: { show: false } };
}

function options(points, { width, height, compact, gettext }) {
  const colors = { success: cssColor("--success", "#16794a"), warning: cssColor("--warning", "#8a5a00"), error: cssColor("--error", "#b42318") };
  // A card's sparkline keeps its bars thin: one run is a mark, not a block filling the card.
  const bars = uPlot.paths.bars({ size: [0.7, compact ? 12 : 48], align: 0 });
  const axes = compact
    ? [{ show: false }, { show: false, scale: "s" }, { show: false, scale: "%" }]
    : [
        {
          ...axisColors(),
          // The runs' start times (a run's place on the x axis is its index).
          values: (_u, splits) => splits.map((index) => (points[index]?.started_at ? formatClock(points[index].started_at) : "")),
          space: 70,
        },
        { ...axisColors(), scale: "s", label: gettext("Duration"), values: (_u, splits) => durationTicks(splits, { gettext }), size: 64 },
        { ...axisColors(), scale: "%", side: 1, label: gettext("Success rate"), values: (_u, splits) => splits.map((rate) => `${rate} %`), grid: { show: false }, size: 56 },
      ];
  return {
    width,
    height,
    padding: compact ? [2, 0, 2, 0] : [8, 8, 0, 0],
    legend: { show: false },
    cursor: { points: { show: false }, drag: { x: false, y: false }, y: false },
    select: { show: false },
    scales: {
      x: { time: false, range: () => [-0.6, Math.max(points.length, 1) - 0.4] },
      s: { range: (_u, _min, max) => [0, Math.max(max || 0, 0.001) * 1.1] },
      "%": { range: [0, 105] },
    },
    axes,
    series: [
      {},
      ...SEVERITIES.map((severity) => ({ label: severityLabel(severity, gettext), scale: "s", stroke: colors[severity], fill: colors[severity], paths: bars, points: { show: false } })),
      { label: gettext("Success rate"), scale: "%", stroke: cssColor("--accent", "#4f46e5"), width: 2, points: { show: !compact, size: 4 } },
    ],
  };
}

function runList(points, href, gettext) {
  const list = document.createElement("ol");
  list.className = "visually-hidden trend-runs";
  const rates = successRates(points);
  points.forEach((point, index) => {
    const item = document.createElement("li");
    item.className = `mark severity-${point.severity}`;
    item.dataset.executionId = point.execution_id;
    const text = tooltipText(point, rates[index], gettext).join(" · ");
    const link = href(point.execution_id);
    if (link) item.append(Object.assign(document.createElement("a"), { href: link, textContent: text }));
    else item.textContent = text;
    list.append(item);
  });
  return list;
}

/**
 * Draw `points` into `figure` (replacing what it held): `href(executionId)` links each run.
 * `compact` draws the sparkline of a card (no axes). The chart follows the figure's width.
 */
export function renderTrend(figure, points, { href = () => null, height = 48, compact = false, gettext = pageGettext } = {}) {
  figure._trendPlot?.destroy();
  figure._trendObserver?.disconnect();
  figure.dataset.marks = String(points.length);
  if (!points.length) {
    figure.replaceChildren(Object.assign(document.createElement("figcaption"), { textContent: gettext("No finished runs yet.") }));
    return null;
  }
  const plotRoot = Object.assign(document.createElement("div"), { className: "trend-plot" });
  const tooltip = Object.assign(document.createElement("div"), { className: "trend-tooltip", hidden: true });
  tooltip.setAttribute("role", "tooltip");
  const rates = successRates(points);
  const caption = interpolate(gettext("Success rate %(rate)s over the latest runs; bars: durations up to %(max)s."), {
    rate: `${Math.round(rates.at(-1))} %`,
    max: formatDuration(Math.max(...points.map((point) => point.duration_ms || 0)), { gettext }),
  });
  const children = [plotRoot, tooltip, runList(points, href, gettext)];
  if (!compact) children.push(legend(gettext), Object.assign(document.createElement("figcaption"), { textContent: caption }));
  figure.replaceChildren(...children);
  figure.setAttribute("aria-label", caption);

  const width = Math.max(figure.clientWidth || 0, compact ? 160 : 320);
  const showTooltip = (u) => {
    const index = u.cursor.idx;
    if (index === null || index === undefined || u.cursor.left < 0) {
      tooltip.hidden = true;
      return;
    }
    tooltip.replaceChildren(...tooltipText(points[index], rates[index], gettext).map((line) => Object.assign(document.createElement("div"), { textContent: line })));
    tooltip.dataset.executionId = points[index].execution_id;
    tooltip.hidden = false;
    // Positioned through the CSSOM (the Content-Security-Policy refuses style attributes).
    const left = u.over.offsetLeft + u.cursor.left;
    tooltip.style.left = `${Math.min(left + 12, Math.max(0, figure.clientWidth - tooltip.offsetWidth))}px`;
    tooltip.style.top = `${u.over.offsetTop + Math.max(0, u.cursor.top - tooltip.offsetHeight - 8)}px`;
  };
  const plot = new uPlot({ ...options(points, { width, height, compact, gettext }), hooks: { setCursor: [showTooltip] } }, trendSeries(points), plotRoot);
  plot.over.addEventListener("mouseleave", () => {
    tooltip.hidden = true;
  });
  plot.over.addEventListener("click", () => {
    const index = plot.cursor.idx;
    const link = index === null || index === undefined ? null : href(points[index]?.execution_id);
    if (link) window.location.assign(link);
  });
  figure._trendPlot = plot;
  if (globalThis.ResizeObserver) {
    figure._trendObserver = new ResizeObserver(() => {
      const next = Math.max(figure.clientWidth || 0, compact ? 160 : 320);
      if (Math.abs(next - plot.width) > 1) plot.setSize({ width: next, height });
    });
    figure._trendObserver.observe(figure);
  }
  return plot;
}

function legend(gettext) {
  const list = Object.assign(document.createElement("ul"), { className: "trend-legend" });
  for (const severity of SEVERITIES) {
    const item = document.createElement("li");
    item.append(Object.assign(document.createElement("span"), { className: `swatch severity-${severity}` }), severityLabel(severity, gettext));
    list.append(item);
  }
  const rate = document.createElement("li");
  rate.append(Object.assign(document.createElement("span"), { className: "swatch rate" }), interpolate(gettext("success rate over the last %(count)s"), { count: RATE_WINDOW }));
  list.append(rate);
  return list;
}
