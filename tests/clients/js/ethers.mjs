// ethers v6, unchanged, against a SuperVM dev node: deploy the WASM ERC20 with ContractFactory,
// call and transact through its ABI, read Transfer events (queryFilter over HTTP, contract.on over
// WebSocket), send JSON-RPC batches, and see a reverting call throw CALL_EXCEPTION.
//
// Environment: SUPERVM_RPC_URL, SUPERVM_WS_URL, SUPERVM_ERC20_ARTIFACT (the artifact's path),
// SUPERVM_PRIVATE_KEY (the deployer's key), SUPERVM_RECIPIENT (an address with no tokens),
// SUPERVM_SUPPLY (the initial supply, decimal). Prints one JSON object on its last stdout line; the
// Python test (test_ethers.py) asserts on it. Any unexpected error exits 1 with it on stderr.
import { readFileSync } from "node:fs";
import { ethers } from "ethers";

const EVENT_TIMEOUT_MS = 20_000;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

// JSON with bigints as decimal strings.
function toJson(value) {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v));
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const url = env("SUPERVM_RPC_URL");
  const wsUrl = env("SUPERVM_WS_URL");
  const artifact = JSON.parse(readFileSync(env("SUPERVM_ERC20_ARTIFACT"), "utf8"));
  const recipient = ethers.getAddress(env("SUPERVM_RECIPIENT"));
  const supply = BigInt(env("SUPERVM_SUPPLY"));
  const out = {};

  // Giving the network makes ethers check eth_chainId against it. Batching is ethers' default;
  // the "debug" events show what went over the wire. cacheTimeout -1: ethers otherwise reuses an
  // identical request's answer for 250 ms, and a dev node that seals at once mines a transaction
  // in less, so a stale "pending" nonce would be reused (ethers-io/ethers.js#4549, the option its
  // author recommends for such nodes, as ethers' own Ganache provider sets).
  const provider = new ethers.JsonRpcProvider(url, 31337, {
    batchMaxCount: 10,
    pollingInterval: 250,
    cacheTimeout: -1,
  });
  const wire = [];
  provider.on("debug", (info) => {
    if (info.action === "sendRpcPayload") {
      wire.push({ sent: Array.isArray(info.payload) ? info.payload.map((p) => p.method) : info.payload.method });
    } else if (info.action === "receiveRpcResult") {
      wire.push({ received: Array.isArray(info.result) ? info.result.length : "object" });
    }
  });
  const network = await provider.getNetwork();
  out.chainId = network.chainId;

  const wallet = new ethers.Wallet(env("SUPERVM_PRIVATE_KEY"), provider);
  out.owner = wallet.address;
  out.ownerEthBefore = await provider.getBalance(wallet.address);
  out.deployNonce = await wallet.getNonce("pending");

  // Deploy: ContractFactory appends the ABI-encoded constructor arguments to the bytecode.
  const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, wallet);
  const token = await factory.deploy("Token", "TOK", supply);
  await token.waitForDeployment();
  const deployReceipt = await token.deploymentTransaction().wait();
  out.address = await token.getAddress();
  out.deploy = {
    status: deployReceipt.status,
    contractAddress: deployReceipt.contractAddress,
    blockNumber: deployReceipt.blockNumber,
    gasUsed: deployReceipt.gasUsed,
    logs: deployReceipt.logs.length,
  };
  out.codeIsModule = (await provider.getCode(out.address)) === artifact.bytecode;

  // Calls, sent concurrently: ethers puts requests made in the same tick into one batch.
  const [name, symbol, decimals, totalSupply, ownerBalance] = await Promise.all([
    token.name(),
    token.symbol(),
    token.decimals(),
    token.totalSupply(),
    token.balanceOf(wallet.address),
  ]);
  out.calls = { name, symbol, decimals, totalSupply, ownerBalance };

  // A batch of raw requests through the provider: one HTTP request, an array back.
  const marker = wire.length;
  const batched = await Promise.all([
    provider.send("eth_chainId", []),
    provider.send("eth_blockNumber", []),
    provider.send("eth_getBalance", [wallet.address, "latest"]),
    provider.send("eth_getTransactionCount", [wallet.address, "latest"]),
  ]);
  out.providerBatch = {
    results: batched,
    wire: wire.slice(marker),
  };

  // An event over WebSocket (eth_subscribe "logs"), set up before the transfer it should see.
  const ws = new ethers.WebSocketProvider(wsUrl, 31337);
  const tokenWs = new ethers.Contract(out.address, artifact.abi, ws);
  const seen = new Promise((resolve) => {
    tokenWs.on("Transfer", (from, to, value, event) => {
      resolve({ from, to, value, transactionHash: event.log.transactionHash });
    });
  });
  // A round trip on the same socket after the eth_subscribe: the subscription is in place.
  await ws.send("eth_blockNumber", []);
  await ws.send("eth_blockNumber", []);

  const amount = 1234n * 10n ** 18n;
  const tx = await token.transfer(recipient, amount);
  const receipt = await tx.wait();
  out.transfer = {
    hash: tx.hash,
    status: receipt.status,
    blockNumber: receipt.blockNumber,
    type: tx.type,
    parsed: receipt.logs.map((log) => {
      const parsed = token.interface.parseLog(log);
      return { name: parsed.name, args: [...parsed.args] };
    }),
  };
  out.balancesAfter = {
    owner: await token.balanceOf(wallet.address),
    recipient: await token.balanceOf(recipient),
  };
  out.wsEvent = await withTimeout(seen, EVENT_TIMEOUT_MS, "the Transfer event over WebSocket");
  await tokenWs.removeAllListeners();
  await ws.destroy();

  // queryFilter: eth_getLogs with the indexed sender as a topic.
  const fromOwner = await token.queryFilter(token.filters.Transfer(wallet.address), deployReceipt.blockNumber);
  out.queryFromOwner = fromOwner.map((e) => ({ from: e.args[0], to: e.args[1], value: e.args[2], tx: e.transactionHash }));
  const all = await token.queryFilter("Transfer", deployReceipt.blockNumber, "latest");
  out.queryAll = all.map((e) => ({ from: e.args[0], to: e.args[1], value: e.args[2] }));

  // A reverting call: the recipient has `amount` tokens and tries to send one more.
  const poor = new ethers.Contract(out.address, artifact.abi, provider);
  try {
    const result = await poor.transfer.staticCall(wallet.address, amount + 1n, { from: recipient });
    out.revert = { threw: false, result };
  } catch (error) {
    out.revert = {
      threw: true,
      code: error.code,
      data: error.data,
      reason: error.reason,
      revertName: error.revert ? error.revert.name : null,
      revertArgs: error.revert ? [...error.revert.args] : null,
      shortMessage: error.shortMessage,
    };
  }

  // One batch sent by hand: a JSON array in, a JSON array out, each answer with its own id.
  const raw = [
    { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] },
    { jsonrpc: "2.0", id: "two", method: "eth_call", params: [{ to: out.address, data: token.interface.encodeFunctionData("totalSupply") }, "latest"] },
    { jsonrpc: "2.0", id: 3, method: "supervm_noSuchMethod", params: [] },
  ];
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(raw),
  });
  out.rawBatch = { status: response.status, contentType: response.headers.get("content-type"), body: await response.json() };

  out.wire = wire;
  provider.destroy();
  process.stdout.write(toJson(out) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  if (error && error.info) process.stderr.write(`info: ${toJson(error.info)}\n`);
  process.exit(1);
});
