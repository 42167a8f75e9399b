// The dev chain's well-known accounts: `supervm node --dev` funds the first ten accounts of the
// mnemonic Hardhat and anvil use, with chain id 31337. Their keys are public: never use them on
// a chain that holds anything of value.
import { HDNodeWallet, JsonRpcProvider, Mnemonic, Network, WebSocketProvider } from "ethers";
import type { Provider } from "ethers";

/** The dev mnemonic (Hardhat's and anvil's). */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";
/** The dev chain's id (Hardhat's and anvil's). */
export const DEV_CHAIN_ID = 31337;
/** How many of the mnemonic's accounts the dev chain funds. */
export const DEV_ACCOUNT_COUNT = 10;
/** Each dev account's starting balance: 10,000 ETH, in wei. */
export const DEV_BALANCE = 10_000n * 10n ** 18n;
/** The derivation path of the dev accounts, without the index (BIP-44, Ethereum). */
export const DEV_PATH = "m/44'/60'/0'/0";

/** A dev account: its address and private key. */
export interface DevAccount {
  readonly index: number;
  readonly address: string;
  readonly privateKey: string;
}

/**
 * The dev accounts as wallets (ethers Signers), connected to `provider` if given.
 *
 * @param count how many (default 10, all the funded ones).
 */
export function devWallets(provider?: Provider | null, count = DEV_ACCOUNT_COUNT): HDNodeWallet[] {
  // Derive the parent once: the seed's PBKDF2 is the slow part.
  const parent = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), DEV_PATH);
  return Array.from({ length: count }, (_, i) => parent.deriveChild(i).connect(provider ?? null));
}

/** One dev account's wallet (index 0 is the dev chain's sealer and the usual deployer). */
export function devWallet(index = 0, provider?: Provider | null): HDNodeWallet {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`dev account index must be a non-negative integer, not ${index}`);
  return devWallets(provider, index + 1)[index]!;
}

/** The dev accounts' addresses and private keys. */
export function devAccounts(count = DEV_ACCOUNT_COUNT): DevAccount[] {
  return devWallets(null, count).map((w, index) => ({ index, address: w.address, privateKey: w.privateKey }));
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The chain id to expect (default 31337); ethers then never asks the node for it again. */
  readonly chainId?: number;
  /** Milliseconds between polls for new blocks and receipts (default 250). */
  readonly pollingInterval?: number;
}

/**
 * A JsonRpcProvider for a SuperVM node (HTTP) set up for a dev chain: a static network, and
 * ethers' 250 ms request cache turned off (`cacheTimeout: -1`): a dev node seals a block as soon
 * as a transaction arrives, faster than that cache expires, so a cached `pending` nonce would be
 * reused (ethers-io/ethers.js#4549).
 */
export function connect(url: string, options: ConnectOptions = {}): JsonRpcProvider {
  const chainId = options.chainId ?? DEV_CHAIN_ID;
  return new JsonRpcProvider(url, Network.from(chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: options.pollingInterval ?? 250,
  });
}

/** A WebSocketProvider for a node's WebSocket endpoint (`ws://host:port/`), for subscriptions. */
export function connectWebSocket(url: string, options: ConnectOptions = {}): WebSocketProvider {
  return new WebSocketProvider(url, Network.from(options.chainId ?? DEV_CHAIN_ID), { staticNetwork: true, cacheTimeout: -1 });
}
