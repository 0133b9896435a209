// ANSI colour codes (SGR: ESC [ … m) in a run's output, as CI logs show them: coloured, bold,
// dim, italic, underlined text instead of boxes and "[32m". Other escape sequences (cursor moves,
// titles) are dropped. Pure: `ansiSegments` parses (node-tested), `ansiFragment` builds the DOM.
// The 16 colours are classes (static/css/dashboard.css, light and dark); 256-colour and true-colour
// codes set the colour through the CSSOM, which the Content-Security-Policy allows.

const ESCAPE = /\x1b\[([0-9;:]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHM]/g;
const CUBE = [0, 95, 135, 175, 215, 255];

/** The CSS colour of a 256-colour code (16 and up; below are the class colours). */
export function color256(code) {
  if (code >= 232) {
    const level = 8 + (code - 232) * 10;
    return `rgb(${level}, ${level}, ${level})`;
  }
  const index = code - 16;
  return `rgb(${CUBE[Math.floor(index / 36)]}, ${CUBE[Math.floor(index / 6) % 6]}, ${CUBE[index % 6]})`;
}

function extendedColor(codes, index) {
  // 38;5;n or 38;2;r;g;b (and 48;… for the background): [colour, codes consumed]
  if (codes[index + 1] === 5 && codes.length > index + 2) {
    const n = codes[index + 2];
    return [n < 16 ? { palette: n } : { css: color256(n) }, 2];
  }
  if (codes[index + 1] === 2 && codes.length > index + 4) {
    const [r, g, b] = codes.slice(index + 2, index + 5);
    return [{ css: `rgb(${r}, ${g}, ${b})` }, 4];
  }
  return [null, 0];
}

function applyCodes(style, codes) {
  const next = { ...style };
  for (let index = 0; index < codes.length; index += 1) {
    const code = codes[index];
    if (code === 0) Object.keys(next).forEach((key) => delete next[key]);
    else if (code === 1) next.bold = true;
    else if (code === 2) next.dim = true;
    else if (code === 3) next.italic = true;
    else if (code === 4) next.underline = true;
    else if (code === 22) {
      delete next.bold;
      delete next.dim;
    }
    else if (code === 23) delete next.italic;
    else if (code === 24) delete next.underline;
    else if (code >= 30 && code <= 37) next.fg = { palette: code - 30 };
    else if (code >= 90 && code <= 97) next.fg = { palette: code - 90 + 8 };
    else if (code === 39) delete next.fg;
    else if (code >= 40 && code <= 47) next.bg = { palette: code - 40 };
    else if (code >= 100 && code <= 107) next.bg = { palette: code - 100 + 8 };
    else if (code === 49) delete next.bg;
    else if (code === 38 || code === 48) {
      const [color, used] = extendedColor(codes, index);
      if (color) next[code === 38 ? "fg" : "bg"] = color;
      index += used;
    }
  }
  return next;
}

/** The text of `line` as [{text, style}] pieces, escape codes removed; `style` carries over (from earlier lines). */
export function ansiSegments(line, style = {}) {
  const segments = [];
  let current = style;
  let last = 0;
  for (const match of line.matchAll(ESCAPE)) {
    if (match.index > last) segments.push({ text: line.slice(last, match.index), style: current });
    if (match[2] === "m") {
      const codes = match[1] === "" ? [0] : match[1].split(/[;:]/).map((part) => Number(part || 0));
      current = applyCodes(current, codes);
    }
    last = match.index + match[0].length;
  }
  if (last < line.length) segments.push({ text: line.slice(last), style: current });
  return { segments, style: current };
}

/** Whether a line holds any escape code (most lines do not: they stay plain text). */
export function hasEscapes(line) {
  return line.includes("\x1b");
}

function classes(style) {
  const names = [];
  if (style.bold) names.push("ansi-bold");
  if (style.dim) names.push("ansi-dim");
  if (style.italic) names.push("ansi-italic");
  if (style.underline) names.push("ansi-underline");
  if (style.fg?.palette !== undefined) names.push(`ansi-fg-${style.fg.palette}`);
  if (style.bg?.palette !== undefined) names.push(`ansi-bg-${style.bg.palette}`);
  return names;
}

/** A DocumentFragment of `segments`: a span per styled piece, plain text nodes otherwise. */
export function ansiFragment(segments, doc = document) {
  const fragment = doc.createDocumentFragment();
  for (const { text, style } of segments) {
    const names = classes(style);
    if (!names.length && !style.fg?.css && !style.bg?.css) {
      fragment.append(doc.createTextNode(text));
      continue;
    }
    const span = doc.createElement("span");
    span.className = names.join(" ");
    if (style.fg?.css) span.style.color = style.fg.css;
    if (style.bg?.css) span.style.backgroundColor = style.bg.css;
    span.textContent = text;
    fragment.append(span);
  }
  return fragment;
}
