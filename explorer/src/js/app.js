// The explorer's shell: the header (search box, chain, head block, connection), and the
// router from the URL's hash to a page (#/, #/block/N, #/tx/HASH, #/address/ADDR, #/search/Q).
// Hash routes keep every page a link the node serves as its one index.html.

import { addressPage } from "./address.js";
import { blockPage } from "./block.js";
import { h, replace } from "./dom.js";
import { classify, num } from "./format.js";
import { homePage } from "./home.js";
import { endpoint, Rpc } from "./rpc.js";
import { txPage } from "./tx.js";
import { problem } from "./widgets.js";

const main = document.getElementById("main");
const status = document.getElementById("connection");
const headBox = document.getElementById("head");
const chainBox = document.getElementById("chain");

const rpc = new Rpc(endpoint(), (state) => {
  status.textContent = state;
  status.className = `connection ${state}`;
});

let leaving = [];
let generation = 0;

/** Search: a block number, a transaction or block hash, or an address. */
async function search(query) {
  const { kind, value } = classify(query);
  if (kind === "block") return `block/${value}`;
  if (kind === "address") return `address/${value}`;
  if (kind === "hash") {
    if (await rpc.call("eth_getTransactionByHash", value)) return `tx/${value}`;
    if (await rpc.call("eth_getBlockByHash", value, false)) return `block/${value}`;
    return null;
  }
  return null;
}

async function route() {
  for (const stop of leaving.splice(0)) stop();
  const mine = ++generation;
  const context = {
    rpc,
    main,
    onLeave: (stop) => (mine === generation ? leaving.push(stop) : stop()),
  };
  const [page, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const arg = decodeURIComponent(rest.join("/"));
  document.title = "SuperVM Explorer";
  window.scrollTo(0, 0);
  try {
    if (!page) await homePage(context);
    else if (page === "block") await blockPage(context, arg);
    else if (page === "tx") await txPage(context, arg);
    else if (page === "address") await addressPage(context, arg);
    else if (page === "search") {
      const found = await search(arg);
      if (mine !== generation) return;
      if (found) location.replace(`#/${found}`);
      else replace(main, problem(`Nothing found for “${arg}”: enter a block number, a transaction or block hash (0x + 64 hex digits), or an address (0x + 40).`));
    } else replace(main, problem(`No page ${location.hash}.`));
  } catch (error) {
    if (mine === generation) replace(main, problem(`The node answered: ${error.message}`));
  }
}

document.getElementById("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = event.target.elements.q;
  const query = input.value.trim();
  if (!query) return;
  input.blur();
  location.hash = `#/search/${encodeURIComponent(query)}`;
});

// The header follows the head block whatever page is shown.
rpc.call("eth_chainId").then((id) => (chainBox.textContent = `chain ${num(id)}`));
rpc.call("eth_blockNumber").then((n) => (headBox.textContent = `block #${num(n)}`));
rpc.subscribe("newHeads", [], (header) => {
  replace(headBox, h("a", { href: `#/block/${num(header.number)}` }, `block #${num(header.number)}`));
});

window.addEventListener("hashchange", route);
route();
