// Pieces several pages show: links to blocks, transactions and addresses, status badges, and
// decoded ABI values.

import { h, link, mono } from "./dom.js";
import { num, short } from "./format.js";

export function blockLink(number) {
  const n = num(number);
  return link(`block/${n}`, `#${n}`);
}

export function txLink(hash, full = false) {
  return link(`tx/${hash}`, mono(full ? hash : short(hash, 8), { title: hash }));
}

export function addressLink(address, full = false) {
  if (!address) return h("span", { class: "muted" }, "—");
  return link(`address/${address}`, mono(full ? address : short(address, 6), { title: address }));
}

export function statusBadge(status) {
  if (status === null || status === undefined) return h("span", { class: "badge pending" }, "pending");
  return num(status) === 1
    ? h("span", { class: "badge ok" }, "success")
    : h("span", { class: "badge fail" }, "failed");
}

export function kindBadge(kind) {
  if (!kind) return h("span", { class: "badge" }, "account");
  return h("span", { class: `badge kind-${kind}` }, kind === "wasm" ? "WASM contract" : "EVM contract");
}

/** A decoded ABI value (addresses link to their page; arrays list their elements). */
export function abiValue(type, value) {
  if (Array.isArray(value)) {
    const inner = type.endsWith("]") ? type.slice(0, type.lastIndexOf("[")) : "";
    return h("span", { class: "abi-array" }, "[", value.map((v, i) => [i ? ", " : "", abiValue(inner, v)]), "]");
  }
  if (type === "address") return addressLink(value, true);
  if (typeof value === "boolean") return String(value);
  if (/^u?int/.test(type)) return mono(grouped(value));
  return mono(String(value));
}

function grouped(text) {
  return String(text).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Decoded arguments as a table of name, type, value. */
export function argsTable(args, { className = "args" } = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: className },
      h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", {}, "type"), h("th", {}, "value"))),
      h(
        "tbody",
        {},
        args.map((arg) =>
          h(
            "tr",
            {},
            h("td", {}, arg.name || "—", arg.indexed ? h("span", { class: "tag" }, "indexed") : null),
            h("td", { class: "mono" }, arg.type),
            h("td", {}, abiValue(arg.type, arg.value)),
          ),
        ),
      ),
    ),
  );
}

/** One decoded log: its event (or its raw topics and data when no ABI knows it). */
export function eventView(decoded, raw) {
  const head = h(
    "div",
    { class: "event-head" },
    decoded?.event
      ? h("strong", { class: "event-name" }, decoded.event)
      : h("span", { class: "muted" }, "unknown event"),
    " ",
    decoded?.signature ? mono(decoded.signature, { class: "mono muted" }) : null,
    " from ",
    addressLink(decoded?.address ?? raw?.address),
    decoded?.artifact ? h("span", { class: "tag" }, decoded.artifact) : null,
    decoded?.logIndex !== undefined && decoded?.logIndex !== null ? h("span", { class: "muted" }, ` log ${num(decoded.logIndex)}`) : null,
  );
  const body = decoded?.event
    ? argsTable(decoded.args)
    : h(
        "div",
        { class: "raw" },
        (raw?.topics ?? []).map((topic, i) => h("div", {}, h("span", { class: "muted" }, `topic ${i}: `), mono(topic))),
        h("div", {}, h("span", { class: "muted" }, "data: "), mono(raw?.data ?? "0x")),
      );
  return h("div", { class: "event" }, head, body);
}

/** "Loading…" while a page fetches. */
export function loading() {
  return h("p", { class: "muted loading" }, "Loading…");
}

/** A message for an error or a missing object. */
export function problem(text) {
  return h("div", { class: "card problem", role: "alert" }, text);
}
