// A minimal event emitter: `on(type, callback)` returns the function that unsubscribes.
// A throwing listener is logged and never stops the others.

export class Emitter {
  #listeners = new Map();
  #logger;

  constructor({ logger = console } = {}) {
    this.#logger = logger;
  }

  on(type, callback) {
    if (typeof callback !== "function") throw new TypeError("callback must be a function");
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(callback);
    return () => this.off(type, callback);
  }

  once(type, callback) {
    const off = this.on(type, (value) => {
      off();
      callback(value);
    });
    return off;
  }

  off(type, callback) {
    this.#listeners.get(type)?.delete(callback);
  }

  emit(type, value) {
    for (const callback of [...(this.#listeners.get(type) ?? [])]) {
      try {
        callback(value);
      } catch (error) {
        this.#logger.error(`[gamification] listener for "${type}" failed`, error);
      }
    }
  }

  listenerCount(type) {
    return this.#listeners.get(type)?.size ?? 0;
  }
}
