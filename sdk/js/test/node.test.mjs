// @supervm/js against a real `supervm node --dev` that this test starts (port 0), with the
// example WASM ERC20 and test/contracts/Probe.ts compiled by `supervm compile` at the same time.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Wallet } from "ethers";

import {
  ContractRevertError,
  DEV_BALANCE,
  attach,
  deploy,
  devAccounts,
  findSupervm,
  loadArtifact,
  queryEvents,
  startDevNode,
  waitForEvent,
  watchEvents,
} from "../dist/esm/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..", "..", "..");
const SUPPLY = 1_000_000n * 10n ** 18n;
const MAX = 2n ** 256n - 1n;

let node;
let erc20Path;
let probePath;

async function compile() {
  const out = mkdtempSync(join(tmpdir(), "supervm-js-artifacts-"));
  const paths = [join(REPO, "examples/contracts/erc20-as"), join(HERE, "contracts")];
  await promisify(execFile)(findSupervm(undefined, HERE), ["compile", ...paths, "--out", out], { cwd: REPO });
  return { erc20: join(out, "ERC20.json"), probe: join(out, "Probe.json") };
}

before(async () => {
  // Both take seconds: overlap them.
  const [started, compiled] = await Promise.all([startDevNode({ cwd: HERE }), compile()]);
  node = started;
  erc20Path = compiled.erc20;
  probePath = compiled.probe;
});

after(async () => {
  if (node !== undefined) assert.equal(await node.stop(), 0, `the node did not stop cleanly:\n${node.output().slice(-2000)}`);
});

describe("a dev node started from JavaScript", () => {
  test("serves on the port it picked, with the dev accounts funded", async () => {
    assert.match(node.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.notEqual(node.url, "http://127.0.0.1:0/");
    assert.equal(node.wsUrl, node.url.replace("http", "ws"));
    const provider = node.provider();
    assert.equal((await provider.getNetwork()).chainId, 31337n);
    const accounts = await provider.send("eth_accounts", []);
    assert.deepEqual(accounts.map((a) => a.toLowerCase()), devAccounts().map((a) => a.address.toLowerCase()));
    // Account 9 is never used by these tests: it still has its whole balance.
    assert.equal(await provider.getBalance(node.signer(9).address), DEV_BALANCE);
    provider.destroy();
  });
});

describe("deploy, call, transact", () => {
  test("the WASM ERC20 deploys with a Wallet and answers through its ABI", async () => {
    const signer = node.signer(1);
    const nonce = await signer.getNonce("pending");
    const { contract, address, receipt } = await deploy(erc20Path, signer, ["Token", "TOK", SUPPLY]);
    assert.equal(receipt.status, 1);
    assert.equal(address, receipt.contractAddress);
    assert.equal(address, (await import("ethers")).getCreateAddress({ from: signer.address, nonce }));
    // The chain stores the module itself, without the constructor arguments.
    assert.equal(await signer.provider.getCode(address), loadArtifact(erc20Path).bytecode);
    assert.equal(await contract.name(), "Token");
    assert.equal(await contract.symbol(), "TOK");
    assert.equal(await contract.decimals(), 18n);
    assert.equal(await contract.balanceOf(signer.address), SUPPLY);

    const recipient = Wallet.createRandom().address;
    const tx = await contract.transfer(recipient, 25n);
    const mined = await tx.wait();
    assert.equal(mined.status, 1);
    assert.equal(await contract.balanceOf(recipient), 25n);
    assert.equal(await contract.balanceOf(signer.address), SUPPLY - 25n);
    // attach: the same contract through a provider only (reads).
    const reader = attach(erc20Path, address, node.provider());
    assert.equal(await reader.totalSupply(), SUPPLY);
    // deploy registered the artifact with the node, so its explorer decodes the contract.
    const known = await node.provider().send("supervm_getArtifact", [address]);
    assert.equal(known?.name, "ERC20");
    assert.ok(known.addresses.map((a) => a.toLowerCase()).includes(address.toLowerCase()));
  });
});

describe("reverts are decoded into ContractRevertError", () => {
  let probe;
  let signer;
  before(async () => {
    signer = node.signer(2);
    ({ contract: probe } = await deploy(probePath, signer, [100n]));
  });

  test("Error(string) from a call", async () => {
    await assert.rejects(probe.fail("no luck"), (error) => {
      assert.ok(error instanceof ContractRevertError, String(error));
      assert.equal(error.kind, "Error");
      assert.equal(error.reason, "no luck");
      assert.equal(error.message, "execution reverted: no luck");
      assert.equal(error.cause.code, "CALL_EXCEPTION");
      return true;
    });
  });

  test("Panic(0x11) from checked arithmetic", async () => {
    assert.equal(await probe.add(1n, 2n), 3n);
    await assert.rejects(probe.add(MAX, 1n), (error) => {
      assert.ok(error instanceof ContractRevertError, String(error));
      assert.equal(error.kind, "Panic");
      assert.equal(error.panicCode, 0x11n);
      assert.match(error.message, /arithmetic overflow/);
      return true;
    });
  });

  test("a custom error, from the gas estimate of a transaction and from staticCall", async () => {
    for (const attempt of [() => probe.store(101n), () => probe.store.staticCall(500n), () => probe.getFunction("store")(102n)]) {
      await assert.rejects(attempt(), (error) => {
        assert.ok(error instanceof ContractRevertError, String(error));
        assert.equal(error.kind, "custom");
        assert.equal(error.errorName, "TooLarge");
        assert.equal(error.args[1], 100n);
        assert.match(error.reason, /^TooLarge\(\d+, 100\)$/);
        return true;
      });
    }
  });

  test("a transaction mined as failed is replayed for its reason", async () => {
    // A fixed gas limit skips the estimate: the transaction is sent, mined, and fails on chain.
    const tx = await probe.store(1000n, { gasLimit: 500_000n });
    await assert.rejects(tx.wait(), (error) => {
      assert.ok(error instanceof ContractRevertError, String(error));
      assert.equal(error.kind, "custom");
      assert.equal(error.errorName, "TooLarge");
      assert.deepEqual(error.args, [1000n, 100n]);
      assert.equal(error.transactionHash, tx.hash);
      assert.match(error.message, /^transaction reverted \(replayed\): TooLarge/);
      return true;
    });
    assert.equal(await probe.current(), 0n);
  });

  test("a contract connected to another signer keeps decoding", async () => {
    const other = probe.connect(node.signer(3));
    await assert.rejects(other.fail("again"), (error) => error instanceof ContractRevertError && error.reason === "again");
  });
});

describe("events", () => {
  let probe;
  let address;
  let signer;
  before(async () => {
    signer = node.signer(4);
    ({ contract: probe, address } = await deploy(probePath, signer, [10n ** 30n]));
  });

  test("over WebSocket (eth_subscribe logs)", async () => {
    const ws = node.wsProvider();
    try {
      const seen = [];
      const watched = attach(probePath, address, ws);
      const unwatch = await watchEvents(watched, "Stored", (event) => seen.push(event));
      const { event } = await waitForEvent(watched, "Stored", { predicate: (e) => e.args.value === 8n, timeoutMs: 20_000 });
      const first = await (await probe.store(7n)).wait();
      await (await probe.store(8n)).wait();
      const last = await event;
      assert.equal(last.name, "Stored");
      assert.equal(last.args.by, signer.address);
      await unwatch();
      assert.deepEqual(seen.map((e) => e.args.value), [7n, 8n]);
      assert.equal(seen[0].transactionHash, first.hash);
      assert.equal(seen[0].signature, "Stored(address,uint256)");
    } finally {
      await ws.destroy();
    }
  });

  test("by polling over HTTP (eth_getLogs)", async () => {
    const seen = [];
    const unwatch = await watchEvents(probe, "*", (event) => seen.push(event), { transport: "polling", pollingInterval: 50 });
    const { event } = await waitForEvent(probe, "Stored", { transport: "polling", pollingInterval: 50, timeoutMs: 20_000 });
    const receipt = await (await probe.store(9n)).wait();
    const got = await event;
    assert.equal(got.args.value, 9n);
    assert.equal(got.blockNumber, receipt.blockNumber);
    // Give the other watcher a poll or two to see the same block.
    const deadline = Date.now() + 5_000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await unwatch();
    assert.deepEqual(seen.map((e) => [e.name, e.args.value]), [["Stored", 9n]]);
  });

  test("past events (queryEvents)", async () => {
    const events = await queryEvents(probe, "Stored");
    assert.deepEqual(events.map((e) => e.args.value), [7n, 8n, 9n]);
    assert.ok(events.every((e) => e.args.by === signer.address));
    await assert.rejects(queryEvents(probe, "Nope"), /has no event Nope \(it has: Stored\)/);
  });
});
