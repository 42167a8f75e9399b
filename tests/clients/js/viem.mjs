// viem, unchanged, against a SuperVM dev node: read balances, send a signed ETH transfer, deploy
// the WASM ERC20, read it with readContract, transfer with writeContract, and simulate a
// reverting transfer.
//
// Environment: SUPERVM_RPC_URL, SUPERVM_ERC20_ARTIFACT, SUPERVM_PRIVATE_KEY, SUPERVM_RECIPIENT
// (an address holding nothing), SUPERVM_SUPPLY. Prints one JSON object on its last stdout line
// (test_viem.py asserts on it); an unexpected error exits 1 with it on stderr.
import { readFileSync } from "node:fs";
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  parseEther,
  parseEventLogs,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

function toJson(value) {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v));
}

function receiptSummary(receipt) {
  return {
    status: receipt.status,
    type: receipt.type,
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed,
    effectiveGasPrice: receipt.effectiveGasPrice,
    contractAddress: receipt.contractAddress,
    transactionHash: receipt.transactionHash,
  };
}

async function main() {
  const url = env("SUPERVM_RPC_URL");
  const artifact = JSON.parse(readFileSync(env("SUPERVM_ERC20_ARTIFACT"), "utf8"));
  const recipient = getAddress(env("SUPERVM_RECIPIENT"));
  const supply = BigInt(env("SUPERVM_SUPPLY"));
  const abi = artifact.abi;
  const out = {};

  const chain = defineChain({
    id: 31337,
    name: "SuperVM dev",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  });
  // A short polling interval: the dev node seals as soon as a transaction arrives.
  const publicClient = createPublicClient({ chain, transport: http(url), pollingInterval: 100 });
  const account = privateKeyToAccount(env("SUPERVM_PRIVATE_KEY"));
  const walletClient = createWalletClient({ account, chain, transport: http(url), pollingInterval: 100 });

  out.chainId = await publicClient.getChainId();
  out.walletChainId = await walletClient.getChainId();
  out.sender = account.address;
  out.senderBefore = await publicClient.getBalance({ address: account.address });
  out.recipientBefore = await publicClient.getBalance({ address: recipient });

  // A signed ETH transfer (viem fills nonce, gas and EIP-1559 fees from the node).
  const value = parseEther("1.5");
  out.value = value;
  const ethHash = await walletClient.sendTransaction({ to: recipient, value });
  const ethReceipt = await publicClient.waitForTransactionReceipt({ hash: ethHash, timeout: 30_000 });
  out.ethTransfer = { hash: ethHash, ...receiptSummary(ethReceipt) };
  out.senderAfter = await publicClient.getBalance({ address: account.address });
  out.recipientAfter = await publicClient.getBalance({ address: recipient });
  const ethTx = await publicClient.getTransaction({ hash: ethHash });
  out.ethTx = { from: ethTx.from, to: ethTx.to, value: ethTx.value, type: ethTx.type, chainId: ethTx.chainId, nonce: ethTx.nonce };

  // Deploy the token, then read and transfer it through the ABI.
  const deployHash = await walletClient.deployContract({ abi, bytecode: artifact.bytecode, args: ["Token", "TOK", supply] });
  const deployReceipt = await publicClient.waitForTransactionReceipt({ hash: deployHash, timeout: 30_000 });
  out.deploy = receiptSummary(deployReceipt);
  out.deployNonce = (await publicClient.getTransaction({ hash: deployHash })).nonce;
  const address = deployReceipt.contractAddress;
  out.ownerTokens = await publicClient.readContract({ address, abi, functionName: "balanceOf", args: [account.address] });
  out.name = await publicClient.readContract({ address, abi, functionName: "name" });

  const amount = 5000n * 10n ** 18n;
  out.amount = amount;
  const { request } = await publicClient.simulateContract({ account, address, abi, functionName: "transfer", args: [recipient, amount] });
  out.simulatedOk = true;
  const tokenHash = await walletClient.writeContract(request);
  const tokenReceipt = await publicClient.waitForTransactionReceipt({ hash: tokenHash, timeout: 30_000 });
  out.tokenTransfer = receiptSummary(tokenReceipt);
  out.tokenLogs = parseEventLogs({ abi, logs: tokenReceipt.logs }).map((log) => ({ eventName: log.eventName, args: log.args }));
  out.ownerTokensAfter = await publicClient.readContract({ address, abi, functionName: "balanceOf", args: [account.address] });
  out.recipientTokens = await publicClient.readContract({ address, abi, functionName: "balanceOf", args: [recipient] });

  // The recipient cannot send more than it has: the simulation reverts with the ERC20's reason.
  try {
    await publicClient.simulateContract({ account: recipient, address, abi, functionName: "transfer", args: [account.address, amount + 1n] });
    out.revert = { threw: false };
  } catch (error) {
    const reverted = error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : null;
    out.revert = {
      threw: true,
      name: error.name,
      reverted: reverted instanceof ContractFunctionRevertedError,
      reason: reverted ? reverted.reason : null,
      errorName: reverted && reverted.data ? reverted.data.errorName : null,
    };
  }

  process.stdout.write(toJson(out) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
