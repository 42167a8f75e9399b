// A block: its header fields, its sealer and its transactions with their status and gas.

import { fields, h, mono, replace, section, table } from "./dom.js";
import { age, ascii, byteLength, datetime, ether, etherShort, grouped, gwei, num, percent } from "./format.js";
import { addressLink, blockLink, loading, problem, statusBadge, txLink } from "./widgets.js";

export async function blockPage({ rpc, main }, id) {
  replace(main, loading());
  const byHash = /^0x[0-9a-fA-F]{64}$/.test(id);
  const block = byHash
    ? await rpc.call("eth_getBlockByHash", id, true)
    : await rpc.call("eth_getBlockByNumber", "0x" + BigInt(id).toString(16), true);
  if (!block) {
    replace(main, problem(`No block ${id} on this chain (yet).`));
    return;
  }
  const number = num(block.number);
  const receipts = await Promise.all(block.transactions.map((tx) => rpc.call("eth_getTransactionReceipt", tx.hash)));
  const extra = ascii(block.extraData);
  document.title = `Block #${number} · SuperVM Explorer`;
  replace(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, `Block #${number}`),
      h(
        "nav",
        { class: "pager" },
        number > 0 ? blockLink(number - 1) : null,
        h("a", { href: `#/block/${number + 1}` }, `#${number + 1} →`),
      ),
    ),
    section(
      "Header",
      fields(
        [
          ["Hash", mono(block.hash)],
          ["Parent", number > 0 ? h("a", { href: `#/block/${block.parentHash}` }, mono(block.parentHash)) : mono(block.parentHash)],
          ["Time", `${datetime(block.timestamp)} (${age(block.timestamp)})`],
          ["Sealer (coinbase)", addressLink(block.miner, true)],
          ["Transactions", String(block.transactions.length)],
          ["Gas used", `${grouped(block.gasUsed)} of ${grouped(block.gasLimit)} (${percent(block.gasUsed, block.gasLimit)})`],
          block.baseFeePerGas !== undefined ? ["Base fee", gwei(block.baseFeePerGas)] : null,
          block.baseFeePerGas !== undefined
            ? ["Burnt fees", ether(BigInt(block.baseFeePerGas) * BigInt(block.gasUsed))]
            : null,
          ["Size", `${grouped(block.size)} bytes`],
          ["State root", mono(block.stateRoot)],
          ["Transactions root", mono(block.transactionsRoot)],
          ["Receipts root", mono(block.receiptsRoot)],
          ["Extra data", [mono(block.extraData), extra ? ` (“${extra}”)` : "", ` ${byteLength(block.extraData)} bytes`]],
          ["Difficulty", String(num(block.difficulty))],
          ["Nonce", mono(block.nonce)],
          ["Mix hash", mono(block.mixHash)],
        ],
        { id: "block-fields" },
      ),
    ),
    section(
      "Transactions",
      block.transactions.length
        ? table(
            ["#", "transaction", "status", "from", "to", "value", "gas used"],
            block.transactions.map((tx, i) => [
              String(i),
              txLink(tx.hash),
              statusBadge(receipts[i]?.status),
              addressLink(tx.from),
              tx.to ? addressLink(tx.to) : receipts[i]?.contractAddress ? ["create ", addressLink(receipts[i].contractAddress)] : "create",
              etherShort(tx.value),
              receipts[i] ? grouped(receipts[i].gasUsed) : "—",
            ]),
            { id: "block-transactions" },
          )
        : h("p", { class: "muted" }, "This block has no transactions."),
    ),
  );
}
