// Critical alerts (`system_alert` with level `critical`): a banner above the panels that stays
// until the reader dismisses it, besides the ticker's item. One banner per alert message.

import { runErrorText } from "../gamification/errors.js";
import { pageGettext } from "../gamification/i18n.js";
import { ALERT_ICONS } from "../gamification/titles.js";
import { h } from "./dom.js";

export function mountBanners(root, { socket, gettext = pageGettext, errorPatterns = [] }) {
  function show(envelope) {
    const data = envelope.data ?? {};
    if (envelope.type !== "system_alert" || data.level !== "critical" || data.request_id !== undefined) return;
    const existing = [...root.children].find((banner) => banner.dataset.message === data.message);
    existing?.remove();
    const banner = h(
      "div",
      { class: "banner", role: "alert", dataset: { message: data.message ?? "", eventId: envelope.id ?? "" } },
      h("span", { "aria-hidden": "true" }, ALERT_ICONS.critical),
      h("div", { class: "banner-body" }, h("span", { class: "banner-message" }, runErrorText(data.message ?? "", errorPatterns)), data.source ? h("span", { class: "banner-source" }, data.source) : null),
    );
    banner.append(h("button", { type: "button", class: "banner-close", onclick: () => banner.remove() }, gettext("Dismiss")));
    root.prepend(banner);
  }
  socket.events.on("message", show);
  return { show };
}
