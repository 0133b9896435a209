// `h(tag, attributes, ...children)`: small element builder. Children are text nodes (never
// parsed as HTML), so event data cannot inject markup.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** Briefly highlight an element that just changed. */
export function flash(element) {
  element.classList.remove("flash");
  void element.offsetWidth; // restart the CSS animation
  element.classList.add("flash");
}
