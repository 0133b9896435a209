// Pure formatting helpers for the dashboard (unit-tested with node --test).

export { formatSeconds } from "../gamification/titles.js";

const UNITS = [
  ["d", 86400],
  ["h", 3600],
  ["min", 60],
];

/** "just now", "5 min ago", "in 2 h", "in 3 d"; "—" for nothing. */
export function relativeTime(iso, now = Date.now()) {
  if (!iso) return "—";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "—";
  const seconds = Math.round((at - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 45) return seconds > 0 ? "in a moment" : "just now";
  const [unit, span] = UNITS.find(([, s]) => size >= s) ?? UNITS.at(-1);
  const count = Math.max(1, Math.round(size / span));
  return seconds > 0 ? `in ${count} ${unit}` : `${count} ${unit} ago`;
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
