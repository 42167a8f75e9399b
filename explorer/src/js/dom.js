// Building the page from data without innerHTML: every value the node returns becomes a text
// node, so nothing in a transaction's input or a token's name can inject markup.

/**
 * An element: h("a", {href: "#/block/1", class: "mono"}, "block ", 1).
 * Attributes starting with "on" are listeners; null/undefined/false children are skipped;
 * arrays of children are flattened.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace everything in `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A link to a page of the app. */
export function link(route, ...children) {
  return h("a", { href: "#/" + route }, ...children);
}

/** A table: headers, and rows of cells; wrapped so that it scrolls sideways on a phone. */
export function table(headers, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("thead", {}, h("tr", {}, headers.map((head) => h("th", {}, head)))),
      h(
        "tbody",
        {},
        rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell)))),
      ),
    ),
  );
}

/** A list of label/value pairs, as a block's or a transaction's fields. */
export function fields(pairs, attrs = {}) {
  return h(
    "dl",
    { class: "fields", ...attrs },
    pairs
      .filter((pair) => pair)
      .map(([label, value]) => [h("dt", {}, label), h("dd", {}, value ?? "—")]),
  );
}

/** A section with a heading. */
export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

/** A monospaced, breakable value (hashes, hex data). */
export function mono(text, attrs = {}) {
  return h("span", { class: "mono", ...attrs }, text);
}
