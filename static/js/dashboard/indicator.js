// The connection indicator in the top bar, and its Disconnect / Connect button.

import { State } from "../gamification/state.js";

const LABELS = {
  [State.IDLE]: "Connecting…",
  [State.CONNECTING]: "Connecting…",
  [State.OPEN]: "Live",
  [State.RECONNECTING]: "Disconnected · reconnecting…",
  [State.CLOSED]: "Offline",
  [State.UNAUTHORIZED]: "Signed out",
};

const HINTS = {
  [State.OPEN]: "Connected: events arrive as they happen.",
  [State.RECONNECTING]: "Connection lost: retrying, and polling the metrics meanwhile.",
  [State.CLOSED]: "Disconnected on purpose: press Connect for live updates.",
  [State.UNAUTHORIZED]: "The server no longer knows this session: log in again.",
};

export function mountIndicator(root, { socket }) {
  const label = root.querySelector(".connection-label");
  const toggle = root.querySelector(".connection-toggle");

  const render = (state) => {
    root.dataset.state = state;
    label.textContent = LABELS[state] ?? state;
    root.title = HINTS[state] ?? "";
    toggle.textContent = state === State.UNAUTHORIZED ? "Log in" : state === State.CLOSED ? "Connect" : "Disconnect";
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
