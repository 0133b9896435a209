// The run page's output: lines appended in batches, one DOM write per animation frame (a
// DocumentFragment), so 10,000 lines arriving at once do not freeze the page. It follows the end
// of the output unless the reader scrolled up (docs/dashboard.md, "Run page").

import { interpolate, pageNgettext } from "../gamification/i18n.js";

/** How close to the bottom (px) still counts as "at the end": the reader did not scroll up. */
export const STICK_THRESHOLD_PX = 24;

export class OutputView {
  #root;
  #count;
  #empty;
  #pending = [];
  #frame = null;
  #ngettext;
  #schedule;
  /** The number of the last line shown (the server rendered lines 1..lastLine). */
  lastLine;
  lines;

  constructor(root, { count = null, empty = null, ngettext = pageNgettext, schedule = (callback) => requestAnimationFrame(callback) } = {}) {
    this.#root = root;
    this.#count = count;
    this.#empty = empty;
    this.#ngettext = ngettext;
    this.#schedule = schedule;
    this.lastLine = Number(root.dataset.lastLine || 0);
    this.lines = root.childElementCount;
  }

  /** Queue line `number` (ignored when already shown: a resumed stream never shows a line twice). */
  append(number, text) {
    if (number <= this.lastLine) return false;
    this.lastLine = number;
    this.#pending.push(text);
    if (this.#frame === null) this.#frame = this.#schedule(() => this.flush());
    return true;
  }

  /** Write the queued lines now (called once per animation frame). */
  flush() {
    this.#frame = null;
    if (!this.#pending.length) return;
    const follow = this.atEnd();
    const fragment = document.createDocumentFragment();
    for (const text of this.#pending) {
      const line = document.createElement("div");
      line.className = "line";
      line.textContent = text;
      fragment.append(line);
    }
    this.lines += this.#pending.length;
    this.#pending = [];
    this.#root.append(fragment);
    this.#root.dataset.lastLine = String(this.lastLine);
    if (follow) this.#root.scrollTop = this.#root.scrollHeight;
    this.#renderCount();
  }

  /** Whether the view shows the end of the output (so new lines keep it there). */
  atEnd() {
    const root = this.#root;
    return root.scrollHeight - root.scrollTop - root.clientHeight <= STICK_THRESHOLD_PX;
  }

  /** The run ended: say so when it printed nothing. */
  finish() {
    this.flush();
    if (this.#empty) this.#empty.hidden = this.lines > 0;
  }

  #renderCount() {
    if (!this.#count) return;
    this.#count.textContent = interpolate(this.#ngettext("%(count)s line", "%(count)s lines", this.lines), { count: this.lines });
  }
}
