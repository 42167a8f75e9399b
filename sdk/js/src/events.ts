// Listening to a contract's events, over WebSocket (`eth_subscribe("logs", filter)`: the node
// pushes each log as its block is sealed) or by polling (`eth_blockNumber`, then `eth_getLogs`
// for the new blocks), which works over plain HTTP and through any provider.
import { WebSocketProvider } from "ethers";
import type { BaseContract, BlockTag, Filter, Log, Provider, Result } from "ethers";

/** One decoded event. */
export interface ContractEvent {
  /** The event's name, e.g. `Transfer`. */
  readonly name: string;
  /** Its signature, e.g. `Transfer(address,address,uint256)`. */
  readonly signature: string;
  /** Its decoded arguments, by position and by name (`args.value`). */
  readonly args: Result;
  /** The log it was decoded from. */
  readonly log: Log;
  readonly blockNumber: number;
  readonly transactionHash: string;
}

/** How to listen. */
export interface WatchOptions {
  /**
   * `websocket`: `eth_subscribe` (the contract's provider must be a WebSocketProvider, or give
   * `provider`); `polling`: `eth_getLogs` every `pollingInterval`; `auto` (default): websocket
   * when the provider is a WebSocketProvider, otherwise polling.
   */
  readonly transport?: "auto" | "websocket" | "polling";
  /** The provider to listen through, instead of the contract's. */
  readonly provider?: Provider;
  /** Polling only: the first block to report events of (default: the next block). */
  readonly fromBlock?: number;
  /** Polling only: milliseconds between polls (default 250). */
  readonly pollingInterval?: number;
  /** Called with a polling error (the poll is retried at the next interval). */
  readonly onError?: (error: unknown) => void;
}

/** Stops listening. */
export type Unwatch = () => Promise<void>;

function providerOf(contract: BaseContract, given?: Provider): Provider {
  const provider = given ?? (contract.runner?.provider as Provider | null | undefined);
  if (provider == null) throw new Error("the contract has no provider to listen through: connect it to one");
  return provider;
}

async function filterFor(contract: BaseContract, event: string): Promise<Filter> {
  const address = await contract.getAddress();
  if (event === "*") return { address };
  const fragment = contract.interface.getEvent(event);
  if (fragment === null) {
    const known = contract.interface.fragments.filter((f) => f.type === "event").map((f) => (f as unknown as { name: string }).name);
    throw new Error(`the contract's ABI has no event ${event} (it has: ${known.join(", ") || "none"})`);
  }
  return { address, topics: [fragment.topicHash] };
}

function decode(contract: BaseContract, log: Log): ContractEvent | null {
  let parsed;
  try {
    parsed = contract.interface.parseLog({ topics: [...log.topics], data: log.data });
  } catch {
    return null;
  }
  if (parsed === null) return null;
  return {
    name: parsed.name,
    signature: parsed.signature,
    args: parsed.args,
    log,
    blockNumber: log.blockNumber,
    transactionHash: log.transactionHash,
  };
}

async function watchSocket(
  contract: BaseContract,
  provider: WebSocketProvider,
  filter: Filter,
  listener: (event: ContractEvent) => void,
): Promise<Unwatch> {
  const handler = (log: Log) => {
    const event = decode(contract, log);
    if (event !== null) listener(event);
  };
  await provider.on(filter, handler);
  // ethers sends eth_subscribe without waiting for its answer; the socket keeps order, so once
  // a request sent after it is answered the subscription is in place (nothing is missed).
  await provider.send("eth_blockNumber", []);
  await provider.send("eth_blockNumber", []);
  return async () => {
    await provider.off(filter, handler);
    // ethers sends eth_unsubscribe without waiting either, and a provider destroyed before it
    // goes out rejects it unhandled: one round trip later it has been answered.
    if (!provider.destroyed) await provider.send("eth_blockNumber", []);
  };
}

async function watchPolling(
  contract: BaseContract,
  provider: Provider,
  filter: Filter,
  listener: (event: ContractEvent) => void,
  options: WatchOptions,
): Promise<Unwatch> {
  const interval = options.pollingInterval ?? 250;
  let next = options.fromBlock ?? (await provider.getBlockNumber()) + 1;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const poll = async () => {
    try {
      const head = await provider.getBlockNumber();
      if (head >= next) {
        const logs = await provider.getLogs({ ...filter, fromBlock: next, toBlock: head });
        next = head + 1;
        for (const log of logs) {
          if (stopped) return;
          const event = decode(contract, log);
          if (event !== null) listener(event);
        }
      }
    } catch (error) {
      options.onError?.(error);
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = poll().finally(schedule);
    }, interval);
  };
  schedule();
  return async () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    await running;
  };
}

/**
 * Call `listener` with every `event` (an event name of the ABI, or `*` for all) the contract
 * emits from now on.
 *
 * @returns a function that stops listening.
 */
export async function watchEvents(
  contract: BaseContract,
  event: string,
  listener: (event: ContractEvent) => void,
  options: WatchOptions = {},
): Promise<Unwatch> {
  const provider = providerOf(contract, options.provider);
  const filter = await filterFor(contract, event);
  const transport = options.transport ?? "auto";
  if (transport === "websocket" || (transport === "auto" && provider instanceof WebSocketProvider)) {
    if (!(provider instanceof WebSocketProvider)) {
      throw new Error("transport websocket needs a WebSocketProvider (give options.provider, e.g. node.wsProvider())");
    }
    return watchSocket(contract, provider, filter, listener);
  }
  return watchPolling(contract, provider, filter, listener, options);
}

/**
 * The next `event` the contract emits for which `predicate` holds.
 *
 * Listening starts before the promise is returned: start waiting, then send the transaction.
 *
 * @param timeoutMs reject after this many milliseconds (default 30000).
 */
export async function waitForEvent(
  contract: BaseContract,
  event: string,
  options: WatchOptions & { readonly predicate?: (event: ContractEvent) => boolean; readonly timeoutMs?: number } = {},
): Promise<{ readonly event: Promise<ContractEvent> }> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  let resolve!: (event: ContractEvent) => void;
  let reject!: (error: Error) => void;
  const seen = new Promise<ContractEvent>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const unwatch = await watchEvents(
    contract,
    event,
    (e) => {
      if (options.predicate === undefined || options.predicate(e)) resolve(e);
    },
    options,
  );
  const timer = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
  const done = async () => {
    clearTimeout(timer);
    await unwatch();
  };
  return {
    event: seen.then(
      async (found) => {
        await done();
        return found;
      },
      async (error: unknown) => {
        await done();
        throw error;
      },
    ),
  };
}

/**
 * The contract's past `event`s (or `*`) between two blocks (`eth_getLogs`), decoded.
 */
export async function queryEvents(
  contract: BaseContract,
  event: string,
  fromBlock: BlockTag = 0,
  toBlock: BlockTag = "latest",
  provider?: Provider,
): Promise<ContractEvent[]> {
  const filter = await filterFor(contract, event);
  const logs = await providerOf(contract, provider).getLogs({ ...filter, fromBlock, toBlock });
  return logs.map((log) => decode(contract, log)).filter((e): e is ContractEvent => e !== null);
}
