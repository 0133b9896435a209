// Toast notifications: short-lived messages above the panels, at most a few at a time. A toast with an
// `href` opens that page (a run, an agent).

import { pageGettext } from "../gamification/i18n.js";
import { h } from "./dom.js";

const MAX_TOASTS = 4;

export function mountToasts(root, { timeoutMs = 8000, gettext = pageGettext } = {}) {
  function show({ title, tone = "info", detail = null, dataset = {}, href = null }) {
    const heading = h("strong", { class: "toast-title" }, href ? h("a", { href }, title) : title);
    const toast = h(
      "div",
      { class: `toast tone-${tone}`, role: tone === "error" || tone === "critical" ? "alert" : "status", dataset },
      h("div", { class: "toast-body" }, heading, detail ? h("span", { class: "toast-detail" }, detail) : null),
      h("button", { type: "button", class: "toast-close", "aria-label": gettext("Dismiss"), onclick: () => toast.remove() }, "×"),
    );
    root.append(toast);
    while (root.children.length > MAX_TOASTS) root.firstElementChild.remove();
    setTimeout(() => toast.remove(), timeoutMs);
    return toast;
  }
  return { show };
}
