// Formatting helpers of the dashboard: the one way of writing times and durations
// (static/js/gamification/format.js), plus the success rate.

import { pageGettext } from "../gamification/i18n.js";
import { NOTHING, formatClock, formatDateTime, formatDuration, pageLocale, relativeTime as relative } from "../gamification/format.js";

export { formatDuration, formatDuration as formatSeconds } from "../gamification/format.js";

/** "just now", "5 minutes ago", "in 2 hours" (in the page's language); "—" for nothing. */
export function relativeTime(iso, now = Date.now(), gettext = pageGettext, locale = pageLocale()) {
  return relative(iso, now, { gettext, locale });
}

/** "93.5 %" ("93,5 %" in Portuguese) or "—" when nothing finished yet. */
export function formatRate(rate, total, locale = pageLocale()) {
  if (!total) return NOTHING;
  const value = new Intl.NumberFormat(locale, { maximumFractionDigits: 1, useGrouping: false }).format(Number(rate));
  return `${value} %`;
}

/** A date and time as the page's language writes it. */
export function localDateTime(iso) {
  return formatDateTime(iso);
}

/** A local clock time for the ticker: "14:03:07". */
export function clockTime(unixSeconds) {
  return formatClock(unixSeconds ? new Date(unixSeconds * 1000) : new Date());
}
