// Pure formatting helpers for the dashboard (unit-tested with node --test).

export { formatSeconds } from "../gamification/titles.js";

// Each unit is used while its rounded count stays below the next unit's size (59 min, then 1 h).
const UNITS = [
  ["min", 60, 60],
  ["h", 3600, 24],
  ["d", 86400, Infinity],
];

/** "just now", "5 min ago", "in 2 h", "in 3 d"; "—" for nothing. */
export function relativeTime(iso, now = Date.now()) {
  if (!iso) return "—";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "—";
  const seconds = Math.round((at - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 45) return seconds > 0 ? "in a moment" : "just now";
  for (const [unit, span, limit] of UNITS) {
    const count = Math.max(1, Math.round(size / span));
    if (count < limit) return seconds > 0 ? `in ${count} ${unit}` : `${count} ${unit} ago`;
  }
  return "—";
}

/** "93.5 %" or "—" when nothing finished yet. */
export function formatRate(rate, total) {
  if (!total) return "—";
  return `${Number(rate).toFixed(Number.isInteger(rate) ? 0 : 1)} %`;
}

/** A local clock time for the ticker: "14:03:07". */
export function clockTime(unixSeconds) {
  const date = unixSeconds ? new Date(unixSeconds * 1000) : new Date();
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}
