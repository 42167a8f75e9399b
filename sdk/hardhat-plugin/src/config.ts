// The `supervm` config section and the `supervm` network preset: a SuperVM dev node's URL, chain
// id 31337 and the dev mnemonic's ten accounts, so `--network supervm` works with no config.
import type { HardhatConfig, HardhatUserConfig, HttpNetworkConfig } from "hardhat/types";

import type { SupervmConfig } from "./type-extensions";

export const NETWORK = "supervm";
export const DEFAULT_URL = "http://127.0.0.1:8545/";
export const DEV_CHAIN_ID = 31337;
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** Resolve `userConfig.supervm` into `config.supervm`, and add or complete the `supervm` network. */
export function resolveConfig(config: HardhatConfig, userConfig: Readonly<HardhatUserConfig>): void {
  const user = userConfig.supervm ?? {};
  const resolved: SupervmConfig = {
    command: user.command,
    optimize: user.optimize ?? false,
    nodeModules: user.nodeModules,
    node: {
      autoStart: user.node?.autoStart ?? true,
      port: user.node?.port,
      blockTime: user.node?.blockTime,
      args: [...(user.node?.args ?? [])],
    },
  };
  config.supervm = resolved;

  const given = userConfig.networks?.[NETWORK] as Partial<HttpNetworkConfig> | undefined;
  const existing = config.networks[NETWORK] as HttpNetworkConfig | undefined;
  const url = process.env.SUPERVM_RPC_URL || given?.url || DEFAULT_URL;
  config.networks[NETWORK] = {
    gas: "auto",
    gasPrice: "auto",
    gasMultiplier: 1,
    // A dev node seals at once, but a first deploy compiles nothing and waits on nothing: the
    // default 20 s is plenty; 60 s leaves room for a slow CI machine.
    timeout: 60_000,
    httpHeaders: {},
    ...(existing ?? {}),
    url,
    chainId: given?.chainId ?? DEV_CHAIN_ID,
    accounts:
      given?.accounts !== undefined && existing !== undefined
        ? existing.accounts
        : { mnemonic: DEV_MNEMONIC, initialIndex: 0, count: 10, path: "m/44'/60'/0'/0", passphrase: "" },
  };
}
