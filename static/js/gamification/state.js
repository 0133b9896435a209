// The connection's state machine. Every change goes through `transition`, so an impossible
// change (say, "opened" after an intentional close) is a bug that shows, not a silent mix-up.

export const State = Object.freeze({
  IDLE: "idle", // created, connect() not called yet
  CONNECTING: "connecting", // first try, or a try asked for with reconnect()
  OPEN: "open", // the socket is open
  RECONNECTING: "reconnecting", // lost unexpectedly; waiting for the next try or trying
  CLOSED: "closed", // closed on purpose with disconnect(): no reconnect
  UNAUTHORIZED: "unauthorized", // the server refused us (4401): retrying cannot help until login
});

export const Input = Object.freeze({
  CONNECT: "connect",
  OPENED: "opened",
  LOST: "lost",
  CLOSE: "close",
  REFUSED: "refused",
});

const TABLE = {
  [State.IDLE]: { connect: State.CONNECTING, close: State.CLOSED },
  [State.CONNECTING]: {
    opened: State.OPEN,
    lost: State.RECONNECTING,
    close: State.CLOSED,
    refused: State.UNAUTHORIZED,
    connect: State.CONNECTING,
  },
  [State.OPEN]: {
    lost: State.RECONNECTING,
    close: State.CLOSED,
    refused: State.UNAUTHORIZED,
    connect: State.CONNECTING,
  },
  [State.RECONNECTING]: {
    opened: State.OPEN,
    lost: State.RECONNECTING,
    close: State.CLOSED,
    refused: State.UNAUTHORIZED,
    connect: State.CONNECTING,
  },
  [State.CLOSED]: { connect: State.CONNECTING, close: State.CLOSED },
  [State.UNAUTHORIZED]: { connect: State.CONNECTING, close: State.CLOSED },
};

/** The state after `input` in `state`; throws on a change the machine does not allow. */
export function transition(state, input) {
  const next = TABLE[state]?.[input];
  if (next === undefined) {
    throw new Error(`connection state machine: no "${input}" from "${state}"`);
  }
  return next;
}

/** Whether a loss in `state` should be followed by another try. */
export function shouldRetry(state) {
  return state === State.RECONNECTING;
}

/** Whether the page should fall back to polling in `state` (unexpectedly down, not closed on purpose). */
export function isDown(state) {
  return state === State.RECONNECTING;
}
