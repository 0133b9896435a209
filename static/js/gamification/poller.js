// The polling fallback (docs/dashboard.md, "The JavaScript client"): while the socket is down (lost, not closed on purpose) fetch
// a JSON endpoint every `intervalMs`; stop as soon as the socket is back. The first poll comes one
// interval after the loss, so a blip that reconnects at once costs no HTTP request.

import { isDown } from "./state.js";

export const POLL_INTERVAL_MS = 30000;

export class FallbackPoller {
  #options;
  #timer = null;
  #inFlight = false;
  #unsubscribe = null;

  constructor({
    socket,
    url,
    intervalMs = POLL_INTERVAL_MS,
    onData,
    onError = () => {},
    fetchImpl = (...args) => globalThis.fetch(...args),
    timers = globalThis,
    logger = console,
  }) {
    this.#options = { socket, url, intervalMs, onData, onError, fetchImpl, timers, logger };
  }

  /** Follow the socket's state from now on. */
  start() {
    this.#unsubscribe = this.#options.socket.events.on("state", ({ state }) => this.#follow(state));
    this.#follow(this.#options.socket.getConnectionState());
    return this;
  }

  stop() {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#halt();
  }

  isPolling() {
    return this.#timer !== null;
  }

  #follow(state) {
    if (isDown(state)) this.#begin();
    else this.#halt();
  }

  #begin() {
    if (this.#timer !== null) return;
    const { intervalMs, url, timers, logger } = this.#options;
    logger.info(`[gamification] socket down: polling ${url} every ${intervalMs / 1000} s`);
    this.#timer = timers.setInterval(() => this.#tick(), intervalMs);
  }

  #halt() {
    if (this.#timer === null) return;
    this.#options.timers.clearInterval(this.#timer);
    this.#timer = null;
    this.#options.logger.info(`[gamification] socket back: polling ${this.#options.url} stopped`);
  }

  async #tick() {
    if (this.#inFlight) return; // a slow server must not pile requests up
    this.#inFlight = true;
    const { url, fetchImpl, onData, onError } = this.#options;
    try {
      const response = await fetchImpl(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      const data = await response.json();
      if (this.#timer !== null) onData(data);
    } catch (error) {
      onError(error);
    } finally {
      this.#inFlight = false;
    }
  }
}
