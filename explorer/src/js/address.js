// An address: balance and nonce; for a contract its kind (WASM or EVM), code hash and size, the
// artifact and ABI the node knows for it, its recent events and a view of its storage; and the
// transactions that touched it, newest first, a page at a time.

import { fields, h, mono, replace, section, table } from "./dom.js";
import { ascii, ether, etherShort, grouped, num } from "./format.js";
import { addressLink, blockLink, eventView, kindBadge, loading, problem, statusBadge, txLink } from "./widgets.js";

const TX_PAGE = 25;
const STORAGE_PAGE = 50;
const EVENT_BLOCKS = 5000;
const EVENTS_SHOWN = 25;

export async function addressPage({ rpc, main }, address) {
  replace(main, loading());
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
    replace(main, problem(`${address} is not an address (0x and 40 hex digits).`));
    return;
  }
  const info = await rpc.call("supervm_contractInfo", address);
  document.title = `${info.artifact?.name ?? "Address"} ${info.address.slice(0, 10)}… · SuperVM Explorer`;
  const isContract = Boolean(info.kind);
  const txs = h("div", { id: "address-transactions" }, loading());
  const parts = [
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, info.artifact ? `${info.artifact.name}` : isContract ? "Contract" : "Account", " ", kindBadge(info.kind)),
      mono(info.address, { class: "mono subtitle" }),
    ),
    section(
      "Overview",
      fields(
        [
          ["Balance", ether(info.balance)],
          ["Nonce", String(num(info.nonce))],
          ["Kind", info.kind ? (info.kind === "wasm" ? "WebAssembly (WASM)" : "EVM bytecode") : "externally owned account (no code)"],
          isContract ? ["Code hash", mono(info.codeHash)] : null,
          isContract ? ["Code size", `${grouped(info.codeSize)} bytes`] : null,
          isContract
            ? ["Artifact", info.artifact ? `${info.artifact.name} (${info.artifact.compiler.name} ${info.artifact.compiler.version})` : h("span", { class: "muted" }, "none known: register one with supervm_registerArtifact")]
            : null,
        ],
        { id: "address-fields" },
      ),
    ),
  ];
  if (info.artifact) parts.push(abiSection(info.artifact.abi));
  parts.push(section("Transactions", txs));
  let events = null;
  let storage = null;
  if (isContract) {
    events = h("div", { id: "address-events" }, loading());
    storage = h("div", { id: "address-storage" }, loading());
    parts.push(section("Events", events), section("Storage", storage));
  }
  replace(main, ...parts);
  await Promise.all([
    transactions(rpc, txs, address, null),
    events ? showEvents(rpc, events, address) : null,
    storage ? showStorage(rpc, storage, address, null, info.kind) : null,
  ]);
}

function abiSection(abi) {
  const signature = (item) => `${item.name}(${(item.inputs ?? []).map((p) => `${p.type}${p.indexed ? " indexed" : ""}${p.name ? " " + p.name : ""}`).join(", ")})`;
  const returns = (item) => (item.outputs?.length ? ` → (${item.outputs.map((p) => p.type).join(", ")})` : "");
  const functions = abi.filter((i) => i.type === "function");
  const eventsAbi = abi.filter((i) => i.type === "event");
  const errors = abi.filter((i) => i.type === "error");
  const list = (items, render) => h("ul", { class: "abi-list" }, items.map((item) => h("li", {}, render(item))));
  return section(
    "ABI",
    h(
      "div",
      { id: "address-abi" },
      functions.length ? [h("h3", {}, "Functions"), list(functions, (f) => [mono(signature(f) + returns(f)), f.stateMutability && f.stateMutability !== "nonpayable" ? h("span", { class: "tag" }, f.stateMutability) : null])] : null,
      eventsAbi.length ? [h("h3", {}, "Events"), list(eventsAbi, (e) => mono(signature(e)))] : null,
      errors.length ? [h("h3", {}, "Errors"), list(errors, (e) => mono(signature(e)))] : null,
      h("details", {}, h("summary", {}, "JSON"), h("pre", { class: "mono" }, JSON.stringify(abi, null, 2))),
    ),
  );
}

async function transactions(rpc, box, address, before) {
  const page = await rpc.call("supervm_addressTransactions", address, before, TX_PAGE);
  const rows = page.transactions.map((t) => [
    txLink(t.hash),
    blockLink(t.blockNumber),
    statusBadge(t.status),
    t.method ? mono(t.method) : h("span", { class: "muted" }, "transfer (ETH)"),
    sameAddress(t.from, address) ? h("span", { class: "tag out" }, "out") : addressLink(t.from),
    t.to ? (sameAddress(t.to, address) ? h("span", { class: "tag in" }, "in") : addressLink(t.to)) : ["create ", addressLink(t.contractAddress)],
    etherShort(t.value),
  ]);
  const more = page.nextBlock
    ? h("button", { type: "button", class: "more", onclick: () => transactions(rpc, box, address, page.nextBlock) }, `Older (before block ${num(page.nextBlock)})`)
    : null;
  const shown = rows.length
    ? table(["transaction", "block", "status", "method", "from", "to", "value"], rows)
    : h("p", { class: "muted" }, before ? "No older transactions." : "No transactions touched this address.");
  replace(box, shown, before ? h("button", { type: "button", class: "more", onclick: () => transactions(rpc, box, address, null) }, "Newest") : null, more);
}

function sameAddress(a, b) {
  return a && b && a.toLowerCase() === b.toLowerCase();
}

async function showEvents(rpc, box, address) {
  const head = num(await rpc.call("eth_blockNumber"));
  const from = Math.max(0, head - EVENT_BLOCKS + 1);
  const logs = (await rpc.call("eth_getLogs", { address, fromBlock: "0x" + from.toString(16), toBlock: "latest" })).slice(-EVENTS_SHOWN).reverse();
  if (!logs.length) {
    replace(box, h("p", { class: "muted" }, `No events in the last ${EVENT_BLOCKS} blocks.`));
    return;
  }
  const decoded = await rpc.call("supervm_decodeLogs", logs);
  replace(
    box,
    h("p", { class: "muted" }, `The latest ${logs.length} events (blocks ${from} to ${head}).`),
    logs.map((log, i) => h("div", {}, h("div", { class: "event-where" }, blockLink(log.blockNumber), " ", txLink(log.transactionHash)), eventView(decoded[i], log))),
  );
}

async function showStorage(rpc, box, address, start, kind) {
  const page = await rpc.call("supervm_storageAt", address, start, STORAGE_PAGE);
  if (!page.entries.length) {
    replace(box, h("p", { class: "muted" }, "No storage."));
    return;
  }
  const rows = page.entries.map((e) => [mono(e.key), readable(e.key), mono(e.value), valueHint(e.value, kind)]);
  replace(
    box,
    h("p", { class: "muted" }, kind === "wasm"
        ? "Entries in key order, as stored at the head. A WASM contract's keys and values are what it wrote: here the key's text prefix, and a 32-byte value read as a little-endian number (the SDK's u256)."
        : "Entries in key order, as stored at the head: 32-byte slots and words."),
    table(["key", "key as text", "value", "value as number / text"], rows, { class: "storage" }),
    page.next ? h("button", { type: "button", class: "more", onclick: () => showStorage(rpc, box, address, page.next, kind) }, "Next entries") : null,
    start ? h("button", { type: "button", class: "more", onclick: () => showStorage(rpc, box, address, null, kind) }, "First entries") : null,
  );
}

/** A key's printable prefix ("balances") and the hex after it (an address, say). */
function readable(hex) {
  let text = "";
  let i = 2;
  for (; i < hex.length; i += 2) {
    const code = parseInt(hex.slice(i, i + 2), 16);
    if (code < 0x20 || code > 0x7e) break;
    text += String.fromCharCode(code);
  }
  if (text.length < 3) return h("span", { class: "muted" }, "—");
  const rest = hex.slice(i);
  return mono(rest ? `“${text}” + 0x${rest}` : `“${text}”`);
}

function littleEndian(hex) {
  let out = "0x";
  for (let i = hex.length - 2; i >= 2; i -= 2) out += hex.slice(i, i + 2);
  return BigInt(out === "0x" ? "0x0" : out);
}

function valueHint(hex, kind) {
  const text = ascii(hex);
  if (text && text.length >= 2) return mono(`“${text}”`);
  if (hex.length === 66 && kind === "wasm") return mono(grouped(littleEndian(hex)));
  if (hex.length > 2 && hex.length <= 66) return mono(grouped(BigInt(hex)));
  return h("span", { class: "muted" }, "—");
}
