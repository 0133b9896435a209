// The connection indicator in the top bar, and its Disconnect / Connect button.

import { gettext_noop, pageGettext } from "../gamification/i18n.js";
import { State } from "../gamification/state.js";

const LABELS = {
  [State.IDLE]: gettext_noop("Connecting…"),
  [State.CONNECTING]: gettext_noop("Connecting…"),
  [State.OPEN]: gettext_noop("Live"),
  [State.RECONNECTING]: gettext_noop("Disconnected · reconnecting…"),
  [State.CLOSED]: gettext_noop("Offline"),
  [State.UNAUTHORIZED]: gettext_noop("Signed out"),
};

const HINTS = {
  [State.OPEN]: gettext_noop("Connected: events arrive as they happen."),
  [State.RECONNECTING]: gettext_noop("Connection lost: retrying, and polling the metrics meanwhile."),
  [State.CLOSED]: gettext_noop("Disconnected on purpose: press Connect for live updates."),
  [State.UNAUTHORIZED]: gettext_noop("The server no longer knows this session: log in again."),
};

export function mountIndicator(root, { socket, gettext = pageGettext }) {
  const label = root.querySelector(".connection-label");
  const toggle = root.querySelector(".connection-toggle");

  const render = (state) => {
    root.dataset.state = state;
    label.textContent = LABELS[state] ? gettext(LABELS[state]) : state;
    root.title = HINTS[state] ? gettext(HINTS[state]) : "";
    toggle.textContent =
      state === State.UNAUTHORIZED ? gettext("Log in") : state === State.CLOSED ? gettext("Connect") : gettext("Disconnect");
  };

  toggle.addEventListener("click", () => {
    const state = socket.getConnectionState();
    if (state === State.UNAUTHORIZED) window.location.reload(); // the login page, then back here
    else if (state === State.CLOSED) socket.reconnect();
    else socket.disconnect();
  });
  socket.events.on("state", ({ state }) => render(state));
  render(socket.getConnectionState());
}
