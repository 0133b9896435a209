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

/**
 * A gettext over a real catalogue file (locale/<lang>/LC_MESSAGES/djangojs.po), as Django's
 * /jsi18n/ serves it to pages: tests check the Portuguese titles against the very translations.
 */
export async function catalogueGettext(poPath) {
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(poPath, "utf8");
  const messages = new Map();
  let entry = {};
  let field = null;
  const unquote = (line) => JSON.parse(line.trim());
  const flush = () => {
    if (entry.msgid) messages.set(entry.msgid, entry);
    entry = {};
  };
  for (const line of text.split("\n")) {
    if (line.startsWith("msgid ")) {
      flush();
      field = "msgid";
      entry.msgid = unquote(line.slice(6));
    } else if (line.startsWith("msgid_plural ")) {
      field = "msgid_plural";
      entry.msgid_plural = unquote(line.slice(13));
    } else if (/^msgstr(\[\d\])? /.test(line)) {
      field = line.slice(0, line.indexOf(" "));
      entry[field] = unquote(line.slice(field.length + 1));
    } else if (line.startsWith('"') && field) {
      entry[field] += unquote(line);
    }
  }
  flush();
  const gettext = (message) => messages.get(message)?.msgstr || message;
  const ngettext = (singular, plural, count) => {
    const entry = messages.get(singular);
    const index = count > 1 ? 1 : 0; // pt_BR: nplurals=2; plural=(n > 1)
    return entry?.[`msgstr[${index}]`] || (count === 1 ? singular : plural);
  };
  return { gettext, ngettext, size: messages.size };
}
