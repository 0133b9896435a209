// The run page's output, as a CI log shows it: lines appended in batches (one DOM write per
// animation frame, a DocumentFragment, so 10,000 lines arriving at once do not freeze the page),
// ANSI colours rendered, a time beside each line (shown on demand), and a search that highlights
// the matching lines and steps through them. It follows the end of the output unless the reader
// scrolled up (docs/dashboard.md, "Run page").

import { formatClock } from "../gamification/format.js";
import { interpolate, pageGettext, pageNgettext } from "../gamification/i18n.js";
import { ansiFragment, ansiSegments, hasEscapes } from "./ansi.js";

/** How close to the bottom (px) still counts as "at the end": the reader did not scroll up. */
export const STICK_THRESHOLD_PX = 24;
/** Lines written per animation frame at most: a burst of thousands is spread over a few frames. */
export const LINES_PER_FRAME = 1000;

export class OutputView {
  #root;
  #count;
  #empty;
  #waiting;
  #searchCount;
  #pending = [];
  #frame = null;
  #gettext;
  #ngettext;
  #schedule;
  #ended = false;
  #style = {}; // ANSI attributes carried from one line to the next
  #query = "";
  #matches = [];
  #current = -1;
  /** The number of the last line shown (the server rendered lines 1..lastLine). */
  lastLine;
  lines;

  constructor(
    root,
    { count = null, empty = null, waiting = null, searchCount = null, gettext = pageGettext, ngettext = pageNgettext, schedule = (callback) => requestAnimationFrame(callback) } = {},
  ) {
    this.#root = root;
    this.#count = count;
    this.#empty = empty;
    this.#waiting = waiting;
    this.#searchCount = searchCount;
    this.#gettext = gettext;
    this.#ngettext = ngettext;
    this.#schedule = schedule;
    this.lastLine = Number(root.dataset.lastLine || 0);
    this.lines = root.childElementCount;
    this.#upgradeRendered();
  }

  /** The lines the server rendered as plain text get the structure (time, colours) of the others. */
  #upgradeRendered() {
    for (const line of [...(this.#root.children ?? [])]) {
      const at = line.dataset.at ? Number(line.dataset.at) : null;
      line.replaceWith(this.#lineElement(line.textContent, at, line.dataset.n));
    }
  }

  #lineElement(text, at, number) {
    const line = document.createElement("div");
    line.className = "line";
    if (number !== undefined) line.dataset.n = String(number);
    const time = document.createElement("span");
    time.className = "line-time";
    time.setAttribute("aria-hidden", "true");
    if (at) {
      line.dataset.at = String(at);
      time.textContent = formatClock(new Date(at), { milliseconds: true });
    }
    const body = document.createElement("span");
    body.className = "line-text";
    if (hasEscapes(text) || Object.keys(this.#style).length) {
      const { segments, style } = ansiSegments(text, this.#style);
      this.#style = style;
      body.append(ansiFragment(segments));
    } else {
      body.textContent = text;
    }
    line.append(time, body);
    if (this.#query && this.#matchesQuery(line)) line.classList.add("match");
    return line;
  }

  /** Queue line `number` (ignored when already shown: a resumed stream never shows a line twice). */
  append(number, text, at = Date.now()) {
    if (number <= this.lastLine) return false;
    this.lastLine = number;
    this.#pending.push({ number, text, at });
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
    for (const { number, text, at } of batch) fragment.append(this.#lineElement(text, at, number));
    this.lines += batch.length;
    this.#root.append(fragment);
    this.#root.dataset.lastLine = String(this.lastLine - this.#pending.length);
    if (follow) this.#root.scrollTop = this.#root.scrollHeight;
    this.#renderCount();
    if (this.#query) this.#refreshMatches();
    if (this.#pending.length) this.#frame = this.#schedule(() => this.flush());
    else this.#settle();
  }

  /** Whether the view shows the end of the output (so new lines keep it there). */
  atEnd() {
    const root = this.#root;
    return root.scrollHeight - root.scrollTop - root.clientHeight <= STICK_THRESHOLD_PX;
  }

  /** The run ended: once every line is written, say so if it printed nothing, and show the last line. */
  finish() {
    this.#ended = true;
    if (this.#frame === null) this.flush();
  }

  #settle() {
    if (this.#waiting) this.#waiting.hidden = this.lines > 0 || this.#ended;
    if (!this.#ended) return;
    if (this.#empty) this.#empty.hidden = this.lines > 0;
    // The end of a run is what the reader waited for: its last line in view, in the box and on the page.
    if (this.atEnd()) this.#root.lastElementChild?.scrollIntoView({ block: "nearest" });
  }

  #renderCount() {
    if (!this.#count) return;
    this.#count.hidden = false;
    this.#count.textContent = interpolate(this.#ngettext("%(count)s line", "%(count)s lines", this.lines), { count: this.lines });
  }

  /** Show or hide the time beside each line. */
  showTimes(on) {
    this.#root.classList.toggle("show-times", Boolean(on));
  }

  /** Whether any line knows its time (lines of a run whose live stream expired do not). */
  hasTimes() {
    return this.#root.querySelector(".line[data-at]") !== null;
  }

  #matchesQuery(line) {
    return line.querySelector(".line-text").textContent.toLowerCase().includes(this.#query);
  }

  #refreshMatches() {
    this.#matches = [];
    for (const line of this.#root.children) {
      const hit = Boolean(this.#query) && this.#matchesQuery(line);
      line.classList.toggle("match", hit);
      if (hit) this.#matches.push(line);
    }
    this.#renderSearchCount();
  }

  #renderSearchCount() {
    if (!this.#searchCount) return;
    if (!this.#query) {
      this.#searchCount.textContent = "";
      return;
    }
    const total = this.#matches.length;
    this.#searchCount.textContent = total
      ? interpolate(this.#gettext("%(current)s of %(total)s"), { current: Math.max(this.#current, 0) + 1, total })
      : this.#gettext("no match");
  }

  /** Highlight the lines containing `query` (case-insensitive) and go to the first; "" clears. */
  search(query) {
    this.#query = query.trim().toLowerCase();
    this.#current = -1;
    this.#refreshMatches();
    this.#root.classList.toggle("searching", Boolean(this.#query));
    return this.next();
  }

  /** Go to the next matching line (after the last one, the first again). */
  next() {
    if (!this.#matches.length) return 0;
    this.#matches[this.#current]?.classList.remove("current");
    this.#current = (this.#current + 1) % this.#matches.length;
    const line = this.#matches[this.#current];
    line.classList.add("current");
    line.scrollIntoView({ block: "center" });
    this.#renderSearchCount();
    return this.#matches.length;
  }
}
