// Messages in the page's language: Django's JavaScript catalogue (/jsi18n/, loaded by base.html
// before any module) defines the globals gettext() and ngettext(). Functions that build text take a
// `gettext` option defaulting to pageGettext, so node tests inject a catalogue of their own.

/** The message itself: no catalogue (node tests, a page without /jsi18n/), or English. */
export const identity = (message) => message;

/** The page's gettext, looked up at each call (the catalogue script may load after this module). */
export function pageGettext(message) {
  const gettext = globalThis.django?.gettext ?? globalThis.gettext;
  return typeof gettext === "function" && gettext !== pageGettext ? gettext(message) : message;
}

/** The page's ngettext: `singular` or `plural` for `count`, translated. */
export function pageNgettext(singular, plural, count) {
  const ngettext = globalThis.django?.ngettext ?? globalThis.ngettext;
  if (typeof ngettext === "function" && ngettext !== pageNgettext) return ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

/** Marks a message for extraction (makemessages) without translating it here: translate at use. */
export const gettext_noop = identity;

/** "%(name)s - Success" with {name: "Audit"} → "Audit - Success" (Django's named interpolation). */
export function interpolate(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_match, key) => String(values[key] ?? ""));
}
