// Durations, moments and relative times as the reader's language writes them: one format on every
// page, the scripts' and the server's first rendering alike. Numbers and dates through Intl, units
// from the translation catalogue; the same duration rule as the server's
// (infrastructure/formatting.py duration_text): "23ms", "2.1s", "15s", "2m 5s", "1h 4m" — in
// Portuguese "23 ms", "2,1 s", "2 min 5 s".

import { interpolate, pageGettext } from "./i18n.js";

export const NOTHING = "—";
const MILLISECONDS_BELOW_MS = 100; // a 23 ms run reads "23ms", not "0s"
const WHOLE_SECONDS_FROM_MS = 9950; // 9.95 s and up round to whole seconds
const MINUTE_S = 60;
const HOUR_S = 3600;

/** The page's language ("en", "pt-br"): the <html lang> the server wrote. */
export function pageLocale() {
  return globalThis.document?.documentElement?.lang || "en";
}

function number(value, locale) {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 1, useGrouping: false }).format(value);
}

/** A duration in milliseconds as people read it; "—" when unknown. */
export function formatDuration(durationMs, { gettext = pageGettext, locale = pageLocale() } = {}) {
  if (durationMs === null || durationMs === undefined || durationMs === "" || typeof durationMs === "boolean") return NOTHING;
  const ms = Number(durationMs);
  if (!Number.isFinite(ms) || ms < 0) return NOTHING;
  if (Math.round(ms) < MILLISECONDS_BELOW_MS) return interpolate(gettext("%(value)sms"), { value: number(Math.round(ms), locale) });
  if (ms < WHOLE_SECONDS_FROM_MS) return interpolate(gettext("%(value)ss"), { value: number(Math.round(ms / 100) / 10, locale) });
  const seconds = Math.round(ms / 1000);
  if (seconds < MINUTE_S) return interpolate(gettext("%(value)ss"), { value: number(seconds, locale) });
  if (seconds < HOUR_S) {
    return interpolate(gettext("%(minutes)sm %(seconds)ss"), { minutes: Math.floor(seconds / MINUTE_S), seconds: seconds % MINUTE_S });
  }
  const minutes = Math.round(seconds / MINUTE_S);
  return interpolate(gettext("%(hours)sh %(minutes)sm"), { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
}

/** A duration in whole milliseconds ("250ms", in Portuguese "250 ms"), for scales that need the precision. */
export function formatMilliseconds(durationMs, { gettext = pageGettext, locale = pageLocale() } = {}) {
  return interpolate(gettext("%(value)sms"), { value: number(Math.round(Number(durationMs)), locale) });
}

function dateOf(value) {
  const at = value instanceof Date ? value : value ? new Date(value) : null;
  return at && !Number.isNaN(at.getTime()) ? at : null;
}

/** A date and time in the reader's zone and language: "Dec 6, 2026, 10:08:44 AM", "6 de dez. de 2026, 10:08:44". */
export function formatDateTime(value, { locale = pageLocale(), timeZone = undefined } = {}) {
  const at = dateOf(value);
  if (!at) return NOTHING;
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium", timeZone }).format(at);
}

/** A clock time (the ticker, output lines): "14:03:07", with milliseconds when asked. */
export function formatClock(value, { locale = pageLocale(), milliseconds = false, timeZone = undefined } = {}) {
  const at = dateOf(value);
  if (!at) return NOTHING;
  const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone };
  if (milliseconds) options.fractionalSecondDigits = 3;
  return new Intl.DateTimeFormat(locale, options).format(at);
}

// Each unit is used while its rounded count stays below the next unit's size (59 min, then 1 h).
const UNITS = [
  ["minute", 60, 60],
  ["hour", 3600, 24],
  ["day", 86400, Infinity],
];

/** "just now", "5 minutes ago", "in 2 hours" (Intl.RelativeTimeFormat in the page's language); "—" for nothing. */
export function relativeTime(value, now = Date.now(), { gettext = pageGettext, locale = pageLocale() } = {}) {
  const at = dateOf(value);
  if (!at) return NOTHING;
  const seconds = Math.round((at.getTime() - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 45) return seconds > 0 ? gettext("in a moment") : gettext("just now");
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "always" });
  for (const [unit, span, limit] of UNITS) {
    const count = Math.max(1, Math.round(size / span));
    if (count < limit) return format.format(Math.sign(seconds) * count, unit);
  }
  return NOTHING;
}

/**
 * Write every <time datetime> under `root` in the reader's language and zone: data-format="datetime"
 * (the default), "relative" or "clock". The full moment stays in the element's title.
 */
export function renderTimes(root, { now = Date.now() } = {}) {
  for (const element of root.querySelectorAll("time[datetime]")) {
    const iso = element.getAttribute("datetime");
    if (!dateOf(iso)) continue;
    const style = element.dataset.format || "datetime";
    element.textContent = style === "relative" ? relativeTime(iso, now) : style === "clock" ? formatClock(iso) : formatDateTime(iso);
    if (style !== "datetime") element.title = formatDateTime(iso);
  }
}
