// The footer ticker: the latest events, newest first, at most `limit` of them.

import { tickerItem } from "../gamification/titles.js";
import { h } from "./dom.js";
import { clockTime } from "./format.js";

export function mountTicker(list, { socket, limit }) {
  socket.events.on("message", (envelope) => {
    // A command's reply to this page repeats the broadcast everyone gets: show the broadcast only.
    if (envelope.data?.request_id !== undefined) return;
    const item = tickerItem(envelope);
    if (!item) return;
    const element = h(
      "li",
      {
        class: `ticker-item tone-${item.tone}`,
        dataset: { type: item.type, eventId: item.id ?? "", emittedAt: item.timestamp ?? "" },
        title: item.source ? `from ${item.source}` : null,
      },
      h("time", { class: "ticker-time" }, clockTime(item.timestamp)),
      item.avatar ? h("span", { class: "ticker-avatar", "aria-hidden": "true" }, item.avatar) : null,
      h("span", { class: "ticker-title" }, item.title),
    );
    list.prepend(element);
    element.dataset.shownAt = String(Date.now() / 1000); // when it was on the page: tests compare it with emission
    while (list.children.length > limit) list.lastElementChild.remove();
  });
}
