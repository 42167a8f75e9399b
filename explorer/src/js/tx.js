// A transaction: status, block, parties, value, gas and fee, its input decoded through the ABI
// of any artifact the node knows (supervm_decodeTransaction), its logs decoded into events,
// and, if it failed, the revert reason (the node replays the block to find it).

import { fields, h, mono, replace, section } from "./dom.js";
import { age, byteLength, datetime, ether, grouped, gwei, num } from "./format.js";
import { addressLink, argsTable, blockLink, eventView, loading, problem, statusBadge } from "./widgets.js";

const TYPES = { 0: "legacy (0)", 1: "access list (EIP-2930)", 2: "dynamic fee (EIP-1559)" };

export async function txPage({ rpc, main, onLeave }, hash) {
  replace(main, loading());
  const [tx, receipt] = await Promise.all([
    rpc.call("eth_getTransactionByHash", hash),
    rpc.call("eth_getTransactionReceipt", hash),
  ]);
  if (!tx) {
    replace(main, problem(`No transaction ${hash} on this node (neither in a block nor in its pool).`));
    return;
  }
  if (!receipt) {
    // Pooled: show what there is, and look again when the next block comes.
    const stop = rpc.subscribe("newHeads", [], () => {
      stop();
      txPage({ rpc, main, onLeave }, hash);
    });
    onLeave(stop);
  }
  const decoded = receipt ? await rpc.call("supervm_decodeTransaction", hash) : null;
  document.title = `Transaction ${hash.slice(0, 10)}… · SuperVM Explorer`;
  const price = receipt ? BigInt(receipt.effectiveGasPrice) : BigInt(tx.gasPrice ?? 0);
  const fee = receipt ? BigInt(receipt.gasUsed) * price : null;
  const failed = receipt && num(receipt.status) === 0;

  replace(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Transaction"), mono(hash, { class: "mono subtitle" })),
    section(
      "Overview",
      fields(
        [
          ["Status", statusBadge(receipt?.status)],
          failed ? ["Revert reason", h("strong", { id: "revert-reason", class: "fail-text" }, decoded?.revertReason ?? decoded?.error ?? "none given")] : null,
          ["Block", receipt ? [blockLink(receipt.blockNumber), ` position ${num(receipt.transactionIndex)}`] : "pending"],
          tx.blockTimestamp ? ["Time", `${datetime(tx.blockTimestamp)} (${age(tx.blockTimestamp)})`] : null,
          ["From", addressLink(tx.from, true)],
          tx.to
            ? ["To", [addressLink(tx.to, true), decoded?.contract?.artifact ? h("span", { class: "tag" }, decoded.contract.artifact) : null]]
            : ["Created", receipt?.contractAddress ? addressLink(receipt.contractAddress, true) : "nothing (the creation failed)"],
          ["Value", ether(tx.value)],
          ["Fee", fee === null ? "—" : `${ether(fee)} (${grouped(receipt.gasUsed)} gas × ${gwei(price)})`],
          ["Gas", receipt ? `${grouped(receipt.gasUsed)} used of ${grouped(tx.gas)} limit` : `${grouped(tx.gas)} limit`],
          tx.maxFeePerGas ? ["Fee caps", `max ${gwei(tx.maxFeePerGas)}, tip ${gwei(tx.maxPriorityFeePerGas)}`] : null,
          ["Nonce", String(num(tx.nonce))],
          ["Type", TYPES[num(tx.type)] ?? String(num(tx.type))],
        ],
        { id: "tx-fields" },
      ),
    ),
    inputSection(tx, decoded),
    section(
      `Logs (${receipt ? receipt.logs.length : 0})`,
      receipt && receipt.logs.length
        ? h("div", { id: "tx-logs" }, receipt.logs.map((log, i) => eventView(decoded?.logs?.[i], log)))
        : h("p", { class: "muted" }, failed ? "A failed transaction leaves no logs." : "No logs."),
    ),
  );
}

function inputSection(tx, decoded) {
  const raw = h("details", { class: "raw-input" }, h("summary", {}, `Raw input (${byteLength(tx.input)} bytes)`), h("pre", { class: "mono" }, tx.input));
  if (decoded?.call) {
    const call = decoded.call;
    return section(
      "Input",
      h(
        "div",
        { id: "decoded-call" },
        h("p", {}, h("strong", { class: "function-name" }, call.function), " ", mono(call.signature, { class: "mono muted" }), h("span", { class: "tag" }, call.artifact), call.exact ? null : h("span", { class: "tag warn", title: "decoded with another artifact's ABI that has this selector" }, "guessed")),
        argsTable(call.args),
      ),
      raw,
    );
  }
  if (decoded?.creation) {
    const creation = decoded.creation;
    return section(
      "Input",
      h(
        "div",
        { id: "decoded-call" },
        h("p", {}, "Deploys ", h("strong", {}, creation.artifact), ` (${creation.kind.toUpperCase()})`, creation.args?.length ? " with constructor arguments" : ""),
        creation.args?.length ? argsTable(creation.args) : null,
      ),
      raw,
    );
  }
  if (!tx.input || tx.input === "0x") return section("Input", h("p", { class: "muted" }, "None: a plain ether transfer."));
  return section(
    "Input",
    h("p", { class: "muted" }, "No artifact the node knows has this function. Register the contract's artifact (supervm_registerArtifact, or supervm node --artifacts DIR) to see it decoded."),
    raw,
  );
}
