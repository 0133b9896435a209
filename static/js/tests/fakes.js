// Test doubles for what lies outside the client: the browser's WebSocket, timers and logger.

export class FakeTimers {
  now = 0;
  #seq = 0;
  #tasks = new Map();

  setTimeout = (callback, delay) => this.#add(callback, delay, null);
  setInterval = (callback, delay) => this.#add(callback, delay, delay);
  clearTimeout = (id) => this.#tasks.delete(id);
  clearInterval = (id) => this.#tasks.delete(id);

  #add(callback, delay, every) {
    const id = ++this.#seq;
    this.#tasks.set(id, { callback, at: this.now + delay, every });
    return id;
  }

  pending() {
    return [...this.#tasks.values()].map((task) => task.at - this.now);
  }

  /** Run every task due within `ms`, in time order. */
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.#tasks.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      const [id, task] = due;
      this.now = task.at;
      if (task.every === null) this.#tasks.delete(id);
      else task.at += task.every;
      task.callback();
    }
    this.now = end;
  }
}

export function fakeWebSocketClass() {
  const instances = [];
  class FakeWebSocket {
    readyState = 0;
    sent = [];
    closedWith = null;

    constructor(url) {
      this.url = url;
      instances.push(this);
    }

    send(text) {
      this.sent.push(JSON.parse(text));
    }

    close(code, reason) {
      this.closedWith = { code, reason };
      this.readyState = 3;
    }

    // What the server (or the network) does:
    serverOpen() {
      this.readyState = 1;
      this.onopen?.({});
    }

    serverSend(envelope) {
      this.onmessage?.({ data: typeof envelope === "string" ? envelope : JSON.stringify(envelope) });
    }

    serverClose(code = 1006) {
      this.readyState = 3;
      this.onclose?.({ code });
    }
  }
  return { FakeWebSocket, instances };
}

export function quietLogger() {
  const lines = [];
  const log = (...args) => lines.push(args.join(" "));
  return { lines, info: log, warn: log, error: log, debug: log };
}

export const LOCATION = { href: "http://127.0.0.1:5006/", protocol: "http:", host: "127.0.0.1:5006" };

export function envelope(type, data = {}, id = null) {
  return { type, data, timestamp: 1700000000.5, id };
}
