// The run page's output: lines appended in batches, one DOM write per animation frame (a
// DocumentFragment), so 10,000 lines arriving at once do not freeze the page. It follows the end
// of the output unless the reader scrolled up (docs/dashboard.md, "Run page").

import { interpolate, pageNgettext } from "../gamification/i18n.js";

/** How close to the bottom (px) still counts as "at the end": the reader did not scroll up. */
export const STICK_THRESHOLD_PX = 24;
/** Lines written per animation frame at most: a burst of thousands is spread over a few frames. */
export const LINES_PER_FRAME = 1000;

export class OutputView {
  #root;
  #count;
  #empty;
  #pending = [];
  #frame = null;
  #ngettext;
  #schedule;
  #ended = false;
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

  /** Write up to LINES_PER_FRAME queued lines (called once per animation frame until none is left). */
  flush() {
    this.#frame = null;
    if (!this.#pending.length) return this.#settle();
    const follow = this.atEnd();
    const batch = this.#pending.slice(0, LINES_PER_FRAME);
    this.#pending = this.#pending.slice(batch.length);
    const fragment = document.createDocumentFragment();
    for (const text of batch) {
      const line = document.createElement("div");
      line.className = "line";
      line.textContent = text;
      fragment.append(line);
    }
    this.lines += batch.length;
    this.#root.append(fragment);
    this.#root.dataset.lastLine = String(this.lastLine - this.#pending.length);
    if (follow) this.#root.scrollTop = this.#root.scrollHeight;
    this.#renderCount();
    if (this.#pending.length) this.#frame = this.#schedule(() => this.flush());
    else this.#settle();
  }

  /** Whether the view shows the end of the output (so new lines keep it there). */
  atEnd() {
    const root = this.#root;
    return root.scrollHeight - root.scrollTop - root.clientHeight <= STICK_THRESHOLD_PX;
  }

  /** The run ended: once every line is written, say so if it printed nothing. */
  finish() {
    this.#ended = true;
    if (this.#frame === null) this.flush();
  }

  #settle() {
    if (this.#ended && this.#empty) this.#empty.hidden = this.lines > 0;
  }

  #renderCount() {
    if (!this.#count) return;
    this.#count.textContent = interpolate(this.#ngettext("%(count)s line", "%(count)s lines", this.lines), { count: this.lines });
  }
}
