// The trend chart (docs/dashboard.md, "Trends"): one bar per finished run (height = duration,
// colour = severity, linking to its run page) and a line of the success rate over a moving window.
// A small SVG renderer of our own, no charting library: trendLayout is pure (node-tested),
// renderTrend draws it.

import { interpolate, pageGettext } from "../gamification/i18n.js";
import { formatSeconds, severityLabel } from "../gamification/titles.js";

const SVG = "http://www.w3.org/2000/svg";
/** Runs the success rate is averaged over at each point. */
export const RATE_WINDOW = 10;

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
 * Bars and the rate line in a `width` × `height` box (y grows downwards, as in SVG). The box has
 * room for `slots` bars (the runs a chart can show), so three runs draw three thin bars, not three
 * slabs; more runs than slots share the width.
 */
export function trendLayout(points, { width = 240, height = 48, gap = 1, window = RATE_WINDOW, slots = 0 } = {}) {
  if (!points.length) return { bars: [], rates: [], ratePath: "", maxMs: 0 };
  const maxMs = Math.max(1, ...points.map((point) => point.duration_ms || 0));
  const slot = width / Math.max(points.length, slots);
  const barWidth = Math.max(1, slot - gap);
  const usable = height - 2; // keep 1 px above and below for the line's stroke
  const bars = points.map((point, index) => {
    const barHeight = Math.max(1, ((point.duration_ms || 0) / maxMs) * usable);
    return {
      x: index * slot,
      y: height - barHeight,
      width: barWidth,
      height: barHeight,
      severity: point.severity,
      executionId: point.execution_id,
      durationMs: point.duration_ms || 0,
    };
  });
  const rates = successRates(points, window);
  const ratePath = rates
    .map((rate, index) => {
      const x = index * slot + barWidth / 2;
      const y = 1 + (1 - rate / 100) * usable;
      return `${index ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`;
    })
    .join(" ");
  return { bars, rates, ratePath, maxMs };
}

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/**
 * Draw `points` into `figure` (replacing what it held): `href(executionId)` links each bar to its
 * run. Every bar is a `.mark` (the browser tests count them).
 */
export function renderTrend(figure, points, { href = () => null, width = 240, height = 48, slots = 30, gettext = pageGettext } = {}) {
  const { bars, rates, ratePath } = trendLayout(points, { width, height, slots });
  figure.dataset.marks = String(bars.length);
  if (!bars.length) {
    figure.replaceChildren(Object.assign(document.createElement("figcaption"), { textContent: gettext("No finished runs yet.") }));
    return;
  }
  const chart = svg("svg", { class: "trend-chart", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img" });
  for (const bar of bars) {
    const label = `${bar.executionId} · ${formatSeconds(bar.durationMs)} · ${severityLabel(bar.severity, gettext)}`;
    const rect = svg("rect", {
      class: `mark severity-${bar.severity}`,
      x: bar.x.toFixed(1),
      y: bar.y.toFixed(1),
      width: bar.width.toFixed(1),
      height: bar.height.toFixed(1),
      "data-execution-id": bar.executionId,
    }, svg("title", {}, label));
    const link = href(bar.executionId);
    chart.append(link ? svg("a", { href: link }, rect) : rect);
  }
  chart.append(svg("path", { class: "rate", d: ratePath, fill: "none", "vector-effect": "non-scaling-stroke" }));
  const caption = interpolate(gettext("Success rate %(rate)s over the latest runs; bars: durations up to %(max)s."), {
    rate: `${Math.round(rates.at(-1))} %`,
    max: formatSeconds(Math.max(...bars.map((bar) => bar.durationMs))),
  });
  chart.setAttribute("aria-label", caption);
  figure.replaceChildren(chart, Object.assign(document.createElement("figcaption"), { textContent: caption }));
}
