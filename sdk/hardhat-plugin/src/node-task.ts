// A SuperVM dev node for Hardhat: `hardhat supervm:node` runs one in the foreground (as
// `hardhat node` runs Hardhat Network), and `hardhat test --network supervm` starts one for the
// duration of the test run when nothing answers at the network's URL.
import type { HardhatRuntimeEnvironment, HttpNetworkConfig } from "hardhat/types";
import { HardhatPluginError } from "hardhat/plugins";

import { NETWORK } from "./config";
import { PLUGIN } from "./compile";

// The SDK's node helper (CommonJS build): the same spawning and waiting as its tests use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdk = require("@supervm/js") as typeof import("@supervm/js");

export type DevNode = import("@supervm/js").DevNode;

/** Whether a JSON-RPC node answers `eth_chainId` at `url` within `timeoutMs`. */
export async function answers(url: string, timeoutMs = 1500): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json()) as { result?: unknown };
    return typeof body.result === "string";
  } catch {
    return false;
  }
}

function portOf(url: string): number {
  const parsed = new URL(url);
  return Number(parsed.port || (parsed.protocol === "https:" ? 443 : 80));
}

/** Start a dev node for `hre` and point the supervm network at it; the caller stops it. */
export async function startNode(
  hre: HardhatRuntimeEnvironment,
  options: { port?: number; blockTime?: number; echo?: boolean } = {},
): Promise<DevNode> {
  const network = hre.config.networks[NETWORK] as HttpNetworkConfig;
  const settings = hre.config.supervm.node;
  const port = options.port ?? settings.port ?? portOf(network.url);
  let command: string;
  try {
    command = sdk.findSupervm(hre.config.supervm.command, hre.config.paths.root);
  } catch (error) {
    throw new HardhatPluginError(PLUGIN, (error as Error).message);
  }
  let node: DevNode;
  try {
    node = await sdk.startDevNode({
      command,
      port,
      blockTime: options.blockTime ?? settings.blockTime,
      args: settings.args,
      cwd: hre.config.paths.root,
      onOutput: options.echo ? (line) => console.log(line) : undefined,
    });
  } catch (error) {
    throw new HardhatPluginError(PLUGIN, (error as Error).message);
  }
  // The provider is created on first use, from this config: set before any request, every
  // later one (hardhat-ethers' too) goes to the node that was started.
  network.url = node.url;
  return node;
}

/** The `test` task's wrapper: run `runSuper` with a dev node serving the supervm network. */
export async function withNodeForTests<T>(hre: HardhatRuntimeEnvironment, runSuper: () => Promise<T>): Promise<T> {
  if (hre.network.name !== NETWORK || !hre.config.supervm.node.autoStart) return runSuper();
  const network = hre.config.networks[NETWORK] as HttpNetworkConfig;
  if (await answers(network.url)) return runSuper();
  const node = await startNode(hre);
  console.log(`Started a SuperVM dev node for the tests at ${node.url}`);
  try {
    return await runSuper();
  } finally {
    const code = await node.stop();
    if (code !== 0) console.error(`The SuperVM dev node exited with code ${code}:\n${node.output().slice(-2000)}`);
  }
}

/** `hardhat supervm:node`: serve until Ctrl-C. */
export async function runNodeForever(hre: HardhatRuntimeEnvironment, port: number | undefined, blockTime: number | undefined): Promise<void> {
  const node = await startNode(hre, { port, blockTime, echo: true });
  await new Promise<void>((res) => {
    const stop = () => {
      void node.stop().then(() => res());
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    node.process.once("exit", () => res());
  });
}
