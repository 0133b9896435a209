// GamificationSocket: the browser client of /ws/gamification (docs/protocol.md; docs/dashboard.md, "The JavaScript client").
//
// One WebSocket per page (see sharedSocket in index.js). After an unexpected close it retries
// with exponential backoff and full jitter, at most 5 s apart, and reconnects with `?since=<the
// last event id it saw>`: the server replays what was missed before any live event, and
// `connected` says how many and whether that was all (a gateway that ignores `since` gets the
// `resume` command instead). Events already seen are dropped by id, so a replay that overlaps
// live delivery never shows anything twice.

import { backoffDelay } from "./backoff.js";
import { Emitter } from "./emitter.js";
import { Input, State, transition } from "./state.js";
import { DEFAULT_SOCKET_PATH, buildSocketUrl } from "./url.js";

/** The server's accept-then-close code for a connection without a valid session or token. */
export const CLOSE_UNAUTHORIZED = 4401;
/** The code this client closes with when disconnect() is called. */
export const CLOSE_NORMAL = 1000;
export const REQUEST_TIMEOUT_MS = 10000;
const OPEN = 1; // WebSocket.OPEN, spelled out so fake sockets in tests need not define it

export class NotConnectedError extends Error {
  constructor() {
    super("the gamification socket is not connected");
    this.name = "NotConnectedError";
  }
}

export class CommandError extends Error {
  constructor(data) {
    super(data?.message || "command failed");
    this.name = "CommandError";
    this.code = data?.code ?? "error";
    this.data = data;
  }
}

export class GamificationSocket {
  /** Subscribe with `socket.events.on(type, callback)`: an event type (docs/protocol.md, "Events"),
   * a reply type (docs/protocol.md, "Commands"), "message" (every envelope), "state"
   * ({state, previous, code}) or "resync" ({reason}). */
  events;
  clientId = null;

  #options;
  #state = State.IDLE;
  #ws = null;
  #attempt = 0;
  #retryTimer = null;
  #lastId = null;
  #sentSince = null; // the `since` of the connection being opened (null: none)
  #topics = null;
  #pending = new Map();
  #requestSeq = 0;

  constructor({
    url = DEFAULT_SOCKET_PATH,
    token = null,
    topics = null,
    location = globalThis.location,
    WebSocketImpl = globalThis.WebSocket,
    timers = globalThis,
    random = Math.random,
    logger = console,
    backoff = {},
    requestTimeoutMs = REQUEST_TIMEOUT_MS,
  } = {}) {
    this.#options = { url, token, location, WebSocketImpl, timers, random, logger, backoff, requestTimeoutMs };
    this.#topics = topics ? [...topics] : null;
    this.events = new Emitter({ logger });
  }

  /** Open the connection (no-op when already open or connecting). */
  connect() {
    if (this.#state === State.OPEN || this.#state === State.CONNECTING) return this;
    if (this.#state === State.RECONNECTING) return this; // a retry is already on its way
    this.#change(Input.CONNECT);
    this.#open();
    return this;
  }

  /** Close on purpose: no reconnect until connect() or reconnect() is called. */
  disconnect() {
    this.#cancelRetry();
    this.#change(Input.CLOSE);
    this.#closeSocket(CLOSE_NORMAL, "client disconnect");
  }

  /** Drop any current connection and connect again at once, forgetting the backoff. */
  reconnect() {
    this.#cancelRetry();
    this.#closeSocket(CLOSE_NORMAL, "client reconnect");
    this.#attempt = 0;
    this.#change(Input.CONNECT);
    this.#open();
    return this;
  }

  getConnectionState() {
    return this.#state;
  }

  isConnected() {
    return this.#state === State.OPEN;
  }

  /** The id of the newest event received (null before the first `connected`). */
  get lastEventId() {
    return this.#lastId;
  }

  /** Send one command object as JSON; false when the socket is not open. */
  send(command) {
    if (!this.#ws || this.#ws.readyState !== OPEN) return false;
    this.#ws.send(JSON.stringify(command));
    return true;
  }

  /** Send a command with a fresh request_id; resolves with the reply's data, rejects on an error reply. */
  request(command, fields = {}) {
    const requestId = `r${++this.#requestSeq}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ command, ...fields, request_id: requestId })) {
        reject(new NotConnectedError());
        return;
      }
      const { timers, requestTimeoutMs } = this.#options;
      const timer = timers.setTimeout(() => {
        this.#pending.delete(requestId);
        reject(new Error(`no reply to "${command}" within ${requestTimeoutMs} ms`));
      }, requestTimeoutMs);
      this.#pending.set(requestId, { resolve, reject, timer });
    });
  }

  ping() {
    return this.request("ping");
  }

  getStats() {
    return this.request("get_stats");
  }

  /** Replace the topic set (kept, and sent again after every reconnect). */
  subscribe(topics) {
    this.#topics = [...topics];
    return this.isConnected() ? this.request("subscribe", { topics: this.#topics }) : Promise.resolve(null);
  }

  #open() {
    const { url, token, location, WebSocketImpl } = this.#options;
    this.#sentSince = this.#lastId;
    const ws = new WebSocketImpl(buildSocketUrl({ location, target: url, token, since: this.#sentSince }));
    this.#ws = ws;
    // Events of a socket that was replaced (reconnect()) must not touch the current one.
    ws.onopen = () => this.#ws === ws && this.#change(Input.OPENED);
    ws.onmessage = (event) => this.#ws === ws && this.#receive(event.data);
    ws.onclose = (event) => this.#ws === ws && this.#closed(event);
    ws.onerror = () => {}; // a close event always follows; it carries the code
  }

  #closed(event) {
    this.#ws = null;
    this.#failPending();
    if (this.#state === State.CLOSED) return;
    if (event.code === CLOSE_UNAUTHORIZED) {
      this.#change(Input.REFUSED, { code: event.code });
      return;
    }
    this.#change(Input.LOST, { code: event.code });
    this.#scheduleRetry();
  }

  #scheduleRetry() {
    const { timers, random, backoff, logger } = this.#options;
    const delay = backoffDelay(this.#attempt, { ...backoff, random });
    this.#attempt += 1;
    logger.info(`[gamification] retrying in ${delay} ms (try ${this.#attempt})`);
    this.#retryTimer = timers.setTimeout(() => {
      this.#retryTimer = null;
      if (this.#state === State.RECONNECTING) this.#open();
    }, delay);
  }

  #cancelRetry() {
    if (this.#retryTimer !== null) this.#options.timers.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #closeSocket(code, reason) {
    const ws = this.#ws;
    this.#ws = null;
    this.#failPending();
    if (ws) ws.close(code, reason);
  }

  #failPending() {
    for (const { reject, timer } of this.#pending.values()) {
      this.#options.timers.clearTimeout(timer);
      reject(new NotConnectedError());
    }
    this.#pending.clear();
  }

  #change(input, detail = {}) {
    const previous = this.#state;
    this.#state = transition(previous, input);
    if (this.#state === previous) return;
    const code = detail.code === undefined ? "" : ` (code ${detail.code})`;
    this.#options.logger.info(`[gamification] connection ${previous} → ${this.#state}${code}`);
    this.events.emit("state", { state: this.#state, previous, ...detail });
  }

  #receive(raw) {
    let envelope;
    try {
      envelope = JSON.parse(raw);
    } catch {
      this.#options.logger.warn("[gamification] ignored a message that is not JSON", raw);
      return;
    }
    if (!envelope || typeof envelope.type !== "string") return;
    if (typeof envelope.id === "number") {
      if (this.#lastId !== null && envelope.id <= this.#lastId) return; // seen already (replay overlap)
      this.#lastId = envelope.id;
      // A replay in the handshake covers every topic (a new connection's): keep to the chosen ones.
      if (this.#topics && !this.#topics.includes("all") && !this.#topics.includes(envelope.type)) return;
    }
    if (envelope.type === "connected") this.#connected(envelope.data ?? {});
    if (envelope.type === "resumed" && envelope.data?.complete === false) {
      this.events.emit("resync", { reason: "gap", since: envelope.data.since });
    }
    this.#settle(envelope);
    this.events.emit(envelope.type, envelope);
    this.events.emit("message", envelope);
  }

  #connected(data) {
    this.clientId = data.client_id ?? null;
    this.#attempt = 0;
    if (this.#topics) this.request("subscribe", { topics: this.#topics }).catch(() => {});
    const serverLast = Number.isInteger(data.last_id) ? data.last_id : null;
    if (this.#lastId === null) {
      this.#lastId = serverLast; // a fresh page starts from now; its state comes from the REST API
      return;
    }
    if (serverLast !== null && serverLast < this.#lastId) {
      // Ids went backwards (the history was wiped): nothing to resume from, reload state instead.
      this.#lastId = serverLast;
      this.events.emit("resync", { reason: "reset" });
      return;
    }
    if (Number.isInteger(data.replayed)) {
      // Resumed in the handshake: the `replayed` missed events follow, then live ones.
      if (data.complete !== true) this.events.emit("resync", { reason: "gap", since: this.#sentSince });
      return;
    }
    this.request("resume", { since: this.#lastId }).catch((error) => {
      if (error instanceof CommandError) this.events.emit("resync", { reason: "resume-failed" });
    });
  }

  #settle(envelope) {
    const requestId = envelope.data?.request_id;
    const pending = requestId === undefined ? undefined : this.#pending.get(requestId);
    if (!pending) return;
    this.#pending.delete(requestId);
    this.#options.timers.clearTimeout(pending.timer);
    if (envelope.type === "error") pending.reject(new CommandError(envelope.data));
    else pending.resolve(envelope.data);
  }
}
