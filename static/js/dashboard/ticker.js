// The footer ticker: the latest events, newest first, at most `limit` of them; each opens its run's
// page (or, for pause and resume, the councilor's). It starts from the recent history the server
// keeps (GET /api/events, docs/http-api.md), so a reload does not empty it, and its label says
// whether events are arriving (Live) or not (Offline, Reconnecting…).

import { gettext_noop, pageGettext } from "../gamification/i18n.js";
import { State } from "../gamification/state.js";
import { TICKER_TYPES, tickerItem } from "../gamification/titles.js";
import { h } from "./dom.js";
import { clockTime } from "./format.js";
import { itemHref } from "./links.js";

const LABELS = {
  [State.IDLE]: gettext_noop("Connecting…"),
  [State.CONNECTING]: gettext_noop("Connecting…"),
  [State.OPEN]: gettext_noop("Live"),
  [State.RECONNECTING]: gettext_noop("Reconnecting…"),
  [State.CLOSED]: gettext_noop("Offline"),
  [State.UNAUTHORIZED]: gettext_noop("Offline"),
};

export function mountTicker(list, { socket, limit, config, label = null, nameOf = () => null, gettext = pageGettext }) {
  const shown = new Set(); // event ids on the ticker: history and live never show one twice

  function element(item, { history = false } = {}) {
    const href = itemHref(config, item);
    const title = href ? h("a", { class: "ticker-title", href }, item.title) : h("span", { class: "ticker-title" }, item.title);
    return h(
      "li",
      {
        class: `ticker-item tone-${item.tone}${history ? " history" : ""}`,
        dataset: { type: item.type, eventId: item.id ?? "", emittedAt: item.timestamp ?? "" },
        title: item.source ? `${item.source}` : null,
      },
      h("time", { class: "ticker-time" }, clockTime(item.timestamp)),
      item.avatar ? h("span", { class: "ticker-avatar", "aria-hidden": "true" }, item.avatar) : null,
      title,
    );
  }

  function place(li, id) {
    // Newest first by event id; an item without id (none today) goes on top.
    const after = id === null ? null : [...list.children].find((other) => other.dataset.eventId !== "" && Number(other.dataset.eventId) < id);
    if (id === null || !after) {
      if (id !== null && [...list.children].some((other) => other.dataset.eventId !== "" && Number(other.dataset.eventId) > id)) list.append(li);
      else list.prepend(li);
    } else list.insertBefore(li, after);
    while (list.children.length > limit) list.lastElementChild.remove();
  }

  function show(envelope, { history = false } = {}) {
    // A command's reply to this page repeats the broadcast everyone gets: show the broadcast only.
    if (envelope.data?.request_id !== undefined) return;
    if (envelope.id !== null && envelope.id !== undefined && shown.has(envelope.id)) return;
    const item = tickerItem(envelope, { nameOf, errorPatterns: config.runErrorPatterns });
    if (!item) return;
    if (item.id !== null) shown.add(item.id);
    const li = element(item, { history });
    place(li, item.id);
    li.dataset.shownAt = String(Date.now() / 1000); // when it was on the page: tests compare it with emission
  }

  async function loadHistory() {
    if (!config.eventsUrl) return;
    try {
      const url = new URL(config.eventsUrl, window.location.href);
      url.searchParams.set("since", "0");
      url.searchParams.set("topics", TICKER_TYPES.join(","));
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const page = await response.json();
      for (const envelope of (page.events ?? []).slice(-limit)) show(envelope, { history: true });
    } catch (error) {
      console.warn("[dashboard] could not load the ticker's history", error);
    }
  }

  function renderLabel(state) {
    if (!label) return;
    label.dataset.state = state;
    label.textContent = gettext(LABELS[state] ?? LABELS[State.CONNECTING]);
  }

  socket.events.on("message", (envelope) => show(envelope));
  socket.events.on("state", ({ state }) => renderLabel(state));
  renderLabel(socket.getConnectionState());
  loadHistory();
  return { show };
}
