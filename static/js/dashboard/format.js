// Pure formatting helpers for the dashboard (unit-tested with node --test).

import { interpolate, pageGettext } from "../gamification/i18n.js";

export { formatSeconds } from "../gamification/titles.js";

// Each unit is used while its rounded count stays below the next unit's size (59 min, then 1 h).
const UNITS = [
  ["min", 60, 60],
  ["h", 3600, 24],
  ["d", 86400, Infinity],
];

/** "just now", "5 min ago", "in 2 h", "in 3 d" (in the page's language); "—" for nothing. */
export function relativeTime(iso, now = Date.now(), gettext = pageGettext) {
  if (!iso) return "—";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "—";
  const seconds = Math.round((at - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 45) return seconds > 0 ? gettext("in a moment") : gettext("just now");
  for (const [unit, span, limit] of UNITS) {
    const count = Math.max(1, Math.round(size / span));
    if (count < limit) {
      const template = seconds > 0 ? gettext("in %(count)s %(unit)s") : gettext("%(count)s %(unit)s ago");
      return interpolate(template, { count, unit });
    }
  }
  return "—";
}

/** "93.5 %" or "—" when nothing finished yet. */
export function formatRate(rate, total) {
  if (!total) return "—";
  return `${Number(rate).toFixed(Number.isInteger(rate) ? 0 : 1)} %`;
}

/** A date and time as the page's language writes it ("01/12/2026, 14:03:07" in pt-BR). */
export function localDateTime(iso) {
  const at = iso ? new Date(iso) : null;
  if (!at || Number.isNaN(at.getTime())) return "—";
  return at.toLocaleString(globalThis.document?.documentElement?.lang || undefined);
}

/** A local clock time for the ticker: "14:03:07". */
export function clockTime(unixSeconds) {
  const date = unixSeconds ? new Date(unixSeconds * 1000) : new Date();
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}
