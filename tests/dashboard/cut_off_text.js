// Text cut off on the page (tests/dashboard/browser.py, CUT_OFF_TEXT), evaluated by Playwright.
// Each text node's boxes are compared with the nearest ancestor that clips (overflow other than
// visible) or, when none does, with the screen: text past a clipping box is "cut", text past a
// scrolling box's visible width "scrolls". Elements hidden on purpose are skipped.
() => {
  const screenRight = document.documentElement.clientWidth;
  const hidden = (element) => element.closest(".visually-hidden, [hidden], template") !== null;
  const name = (element) => {
    const classes = typeof element.className === "string" ? element.className.trim().split(/\s+/).filter(Boolean) : [];
    return element.tagName.toLowerCase() + (element.id ? `#${element.id}` : "") + classes.map((c) => `.${c}`).join("");
  };
  const clipping = (element) => {
    for (let parent = element.parentElement; parent && parent !== document.documentElement; parent = parent.parentElement) {
      if (getComputedStyle(parent).overflowX !== "visible") return parent;
    }
    return null;
  };
  const found = [];
  const seen = new Set();
  const report = (entry) => {
    const key = `${entry.kind} ${entry.where}`;
    if (!seen.has(key)) found.push(entry);
    seen.add(key);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!node.textContent.trim() || !element || hidden(element)) continue;
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const text = node.textContent.trim().slice(0, 40);
    range.selectNodeContents(node);
    for (const box of range.getClientRects()) {
      if (!box.width) continue;
      const clip = clipping(element);
      const overflow = clip ? getComputedStyle(clip).overflowX : "visible";
      if (overflow === "auto" || overflow === "scroll") {
        if (box.right > clip.getBoundingClientRect().right + 1) report({ kind: "scrolls", where: name(clip), text });
        continue;
      }
      const right = clip ? Math.min(clip.getBoundingClientRect().right, screenRight) : screenRight;
      if (box.right > right + 1 || box.left < -1) {
        report({ kind: "cut", where: name(element), clip: clip ? name(clip) : "screen", right: Math.round(box.right), limit: Math.round(right), text });
      }
    }
  }
  return found;
}
