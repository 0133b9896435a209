import assert from "node:assert/strict";
import { test } from "node:test";

import { ansiSegments, color256, hasEscapes } from "../run/ansi.js";

test("colour codes become styled pieces; the codes themselves are gone", () => {
  const { segments } = ansiSegments("\x1b[32mok\x1b[0m done \x1b[1;31mFAIL\x1b[m");
  assert.deepEqual(segments, [
    { text: "ok", style: { fg: { palette: 2 } } },
    { text: " done ", style: {} },
    { text: "FAIL", style: { bold: true, fg: { palette: 1 } } },
  ]);
});

test("bright, background, 256-colour and true-colour codes", () => {
  const { segments } = ansiSegments("\x1b[92;44ma\x1b[38;5;208mb\x1b[38;2;1;2;3mc");
  assert.deepEqual(segments.map((segment) => segment.style.fg), [{ palette: 10 }, { css: color256(208) }, { css: "rgb(1, 2, 3)" }]);
  assert.deepEqual(segments[0].style.bg, { palette: 4 });
});

test("a style carries over to the next line until reset; other escapes are dropped", () => {
  const first = ansiSegments("\x1b[33mwarn");
  const second = ansiSegments("still yellow\x1b[0m plain", first.style);
  assert.deepEqual(second.segments.map((segment) => [segment.text, segment.style.fg?.palette]), [["still yellow", 3], [" plain", undefined]]);
  assert.deepEqual(ansiSegments("\x1b[2K\x1b]0;title\x07progress").segments, [{ text: "progress", style: {} }]);
  assert.equal(hasEscapes("plain"), false);
});
