// The footer ticker: the latest events, newest first, at most `limit` of them; each opens its
// run's page (or, for pause and resume, the councilor's).

import { tickerItem } from "../gamification/titles.js";
import { h } from "./dom.js";
import { clockTime } from "./format.js";
import { itemHref } from "./links.js";

export function mountTicker(list, { socket, limit, config, nameOf = () => null }) {
  socket.events.on("message", (envelope) => {
    // A command's reply to this page repeats the broadcast everyone gets: show the broadcast only.
    if (envelope.data?.request_id !== undefined) return;
    const item = tickerItem(envelope, { nameOf });
    if (!item) return;
    const href = itemHref(config, item);
    const title = href ? h("a", { class: "ticker-title", href }, item.title) : h("span", { class: "ticker-title" }, item.title);
    const element = h(
      "li",
      {
        class: `ticker-item tone-${item.tone}`,
        dataset: { type: item.type, eventId: item.id ?? "", emittedAt: item.timestamp ?? "" },
        title: item.source ? `${item.source}` : null,
      },
      h("time", { class: "ticker-time" }, clockTime(item.timestamp)),
      item.avatar ? h("span", { class: "ticker-avatar", "aria-hidden": "true" }, item.avatar) : null,
      title,
    );
    list.prepend(element);
    element.dataset.shownAt = String(Date.now() / 1000); // when it was on the page: tests compare it with emission
    while (list.children.length > limit) list.lastElementChild.remove();
  });
}
