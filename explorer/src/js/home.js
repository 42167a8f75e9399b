// The home page: the chart of transactions and gas per block, the latest blocks and the latest
// transactions, all updating live from an eth_subscribe("newHeads") subscription.

import { drawChart } from "./chart.js";
import { h, replace, section, table } from "./dom.js";
import { age, etherShort, grouped, num, percent } from "./format.js";
import { addressLink, blockLink, loading, txLink } from "./widgets.js";

const CHART_BLOCKS = 30;
const LIST_BLOCKS = 10;
const LIST_TXS = 12;

export async function homePage({ rpc, main, onLeave }) {
  replace(main, loading());
  const head = num(await rpc.call("eth_blockNumber"));
  const numbers = [];
  for (let n = head; n >= 0 && numbers.length < CHART_BLOCKS; n--) numbers.push(n);
  const blocks = (
    await Promise.all(numbers.map((n) => rpc.call("eth_getBlockByNumber", "0x" + n.toString(16), true)))
  ).filter(Boolean); // newest first

  const chart = h("div", { class: "chart-box", id: "chart" });
  const blockList = h("div", { id: "latest-blocks" });
  const txList = h("div", { id: "latest-transactions" });
  const methods = new Map(); // tx hash -> decoded function name (or null)

  const render = () => {
    const recent = blocks.slice(0, CHART_BLOCKS).reverse();
    drawChart(
      chart,
      recent.map((b) => ({ number: num(b.number), transactions: b.transactions.length, gasUsed: num(b.gasUsed) })),
      CHART_BLOCKS,
    );
    replace(
      blockList,
      table(
        ["block", "age", "transactions", "gas used", "sealer"],
        blocks.slice(0, LIST_BLOCKS).map((b) => [
          blockLink(b.number),
          age(b.timestamp),
          String(b.transactions.length),
          h("span", { title: `${percent(b.gasUsed, b.gasLimit)} of the gas limit` }, grouped(b.gasUsed)),
          addressLink(b.miner),
        ]),
        { class: "blocks" },
      ),
    );
    const txs = blocks.flatMap((b) => [...b.transactions].reverse()).slice(0, LIST_TXS);
    replace(
      txList,
      txs.length
        ? table(
            ["transaction", "block", "from", "to", "method", "value"],
            txs.map((tx) => [
              txLink(tx.hash),
              blockLink(tx.blockNumber),
              addressLink(tx.from),
              tx.to ? addressLink(tx.to) : h("span", { class: "tag" }, "create"),
              methodCell(tx),
              etherShort(tx.value),
            ]),
            { class: "transactions" },
          )
        : h("p", { class: "muted" }, "No transactions yet: send one to the node and it shows up here."),
    );
  };

  const methodCell = (tx) => {
    if (!tx.to) return h("span", { class: "muted" }, "deploy");
    if (!tx.input || tx.input === "0x") return h("span", { class: "muted" }, "transfer (ETH)");
    if (methods.has(tx.hash)) return methods.get(tx.hash) ?? h("span", { class: "mono" }, tx.input.slice(0, 10));
    rpc.call("supervm_decodeTransaction", tx.hash).then(
      (decoded) => {
        methods.set(tx.hash, decoded?.call?.function ?? null);
        render();
      },
      () => methods.set(tx.hash, null),
    );
    methods.set(tx.hash, null);
    return h("span", { class: "mono" }, tx.input.slice(0, 10));
  };

  replace(
    main,
    section(
      "Transactions and gas per block",
      h("p", { class: "legend" }, h("span", { class: "key bar" }), " transactions ", h("span", { class: "key gas-line" }), " gas used"),
      chart,
    ),
    h("div", { class: "columns" }, section("Latest blocks", blockList), section("Latest transactions", txList)),
  );
  render();

  const stop = rpc.subscribe("newHeads", [], async (header) => {
    const block = await rpc.call("eth_getBlockByHash", header.hash, true);
    if (!block || blocks.some((b) => b.hash === block.hash)) return;
    blocks.unshift(block);
    blocks.sort((a, b) => num(b.number) - num(a.number));
    blocks.length = Math.min(blocks.length, CHART_BLOCKS);
    render();
  });
  // Ages go stale while the page is open.
  const timer = setInterval(render, 10_000);
  window.addEventListener("resize", render);
  onLeave(() => {
    stop();
    clearInterval(timer);
    window.removeEventListener("resize", render);
  });
}
