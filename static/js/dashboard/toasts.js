// Toast notifications: short-lived messages in a corner, at most a few at a time.

import { h } from "./dom.js";

const MAX_TOASTS = 4;

export function mountToasts(root, { timeoutMs = 8000 } = {}) {
  function show({ title, tone = "info", detail = null, dataset = {} }) {
    const toast = h(
      "div",
      { class: `toast tone-${tone}`, role: tone === "error" || tone === "critical" ? "alert" : "status", dataset },
      h("div", { class: "toast-body" }, h("strong", { class: "toast-title" }, title), detail ? h("span", { class: "toast-detail" }, detail) : null),
      h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", onclick: () => toast.remove() }, "×"),
    );
    root.append(toast);
    while (root.children.length > MAX_TOASTS) root.firstElementChild.remove();
    setTimeout(() => toast.remove(), timeoutMs);
    return toast;
  }
  return { show };
}
