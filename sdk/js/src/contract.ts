// Deploying and attaching SuperVM contracts with any ethers Signer. A create transaction's data
// is the artifact's bytecode followed by the ABI-encoded constructor arguments: for a WASM module
// they follow its final `supervm.end` custom section, which tells the chain where the module
// ends (docs/contracts.md), exactly what ethers' ContractFactory builds. So deploying is
// ContractFactory; what this adds is the artifact check, revert decoding and the types.
import { Contract, ContractFactory, Interface } from "ethers";
import type {
  BaseContract,
  ContractRunner,
  ContractTransactionResponse,
  JsonFragment,
  Provider,
  Signer,
  TransactionReceipt,
} from "ethers";

import { loadArtifact } from "./artifact.js";
import type { SuperVMArtifact } from "./artifact.js";
import { ContractRevertError, asRevertError, decodeRevert, revertDataOf } from "./errors.js";
import type { ConstructorArgs, SuperVMContract } from "./types.js";

/** An artifact, or a path to one. */
export type ArtifactSource<A extends readonly JsonFragment[] = readonly JsonFragment[]> =
  | string
  | SuperVMArtifact<A>;

/** Transaction overrides for the create transaction (gas, fees, nonce, value). */
export interface DeployOverrides {
  readonly gasLimit?: bigint | number;
  readonly gasPrice?: bigint | number;
  readonly maxFeePerGas?: bigint | number;
  readonly maxPriorityFeePerGas?: bigint | number;
  readonly nonce?: number;
  readonly value?: bigint | number;
}

/** A deployed contract and what deploying it took. */
export interface Deployment<A extends readonly unknown[]> {
  readonly contract: SuperVMContract<A>;
  readonly address: string;
  readonly receipt: TransactionReceipt;
}

/** The ethers ContractFactory for an artifact: `factory.deploy(...args)` is a plain ethers deploy. */
export function contractFactory(source: ArtifactSource, signer?: Signer): ContractFactory {
  const artifact = loadArtifact(source);
  return new ContractFactory(artifact.abi as unknown as JsonFragment[], artifact.bytecode, signer ?? null);
}

/**
 * The data of the create transaction deploying `source` with `args`: the bytecode followed by
 * the ABI-encoded constructor arguments.
 */
export async function deployData(source: ArtifactSource, args: readonly unknown[] = []): Promise<string> {
  const tx = await contractFactory(source).getDeployTransaction(...args);
  return tx.data;
}

const METHOD_PARTS = ["staticCall", "staticCallResult", "estimateGas", "populateTransaction"] as const;

function providerOf(runner: ContractRunner | null | undefined): Provider | null {
  if (runner == null) return null;
  return (runner.provider as Provider | null | undefined) ?? null;
}

/**
 * A mined transaction failed (status 0): receipts carry no revert data, so replay it as a call
 * on the state before its block, as debuggers do, to find the reason. Only a guess when other
 * transactions of the same block ran before it, which is why it says "replayed".
 */
async function replayedRevert(
  iface: Interface,
  runner: ContractRunner | null,
  tx: ContractTransactionResponse,
  error: unknown,
): Promise<ContractRevertError> {
  const receipt = (error as { receipt?: TransactionReceipt | null }).receipt ?? null;
  const provider = providerOf(runner);
  let data: string | undefined;
  if (provider !== null) {
    try {
      await provider.call({
        to: tx.to,
        from: tx.from,
        data: tx.data,
        value: tx.value,
        gasLimit: tx.gasLimit,
        blockTag: receipt !== null ? Math.max(receipt.blockNumber - 1, 0) : "latest",
      });
    } catch (replayError) {
      data = revertDataOf(replayError);
    }
  }
  return new ContractRevertError(decodeRevert(data, iface), {
    cause: error,
    what: "transaction reverted (replayed)",
    transactionHash: tx.hash,
  });
}

function withDecodedWait(
  iface: Interface,
  runner: ContractRunner | null,
  tx: ContractTransactionResponse,
): ContractTransactionResponse {
  const wait = tx.wait.bind(tx);
  Object.defineProperty(tx, "wait", {
    value: async (confirms?: number, timeout?: number) => {
      try {
        return await wait(confirms, timeout);
      } catch (error) {
        if ((error as { code?: unknown }).code === "CALL_EXCEPTION") {
          throw await replayedRevert(iface, runner, tx, error);
        }
        throw error;
      }
    },
  });
  return tx;
}

async function decoded<T>(iface: Interface, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw asRevertError(error, iface);
  }
}

/**
 * Wrap an ethers contract so that every method (and its `staticCall`, `estimateGas`, `send`)
 * throws {@link ContractRevertError} with the decoded reason when the contract reverts, and a
 * sent transaction's `wait()` does too when it fails on chain.
 */
export function withRevertDecoding<C extends BaseContract>(contract: C): C {
  const iface = contract.interface;
  const methods = new Map<string, unknown>();
  const wrap = (name: string, method: Record<string, unknown> & ((...args: unknown[]) => Promise<unknown>)) => {
    const call = async (...args: unknown[]): Promise<unknown> => {
      const result = await decoded(iface, method(...args));
      if (result !== null && typeof result === "object" && "wait" in result && "hash" in result) {
        return withDecodedWait(iface, contract.runner, result as ContractTransactionResponse);
      }
      return result;
    };
    for (const part of METHOD_PARTS) {
      const inner = method[part] as (...args: unknown[]) => Promise<unknown>;
      Object.defineProperty(call, part, { value: (...args: unknown[]) => decoded(iface, inner(...args)) });
    }
    const send = method.send as (...args: unknown[]) => Promise<ContractTransactionResponse>;
    Object.defineProperty(call, "send", {
      value: async (...args: unknown[]) => withDecodedWait(iface, contract.runner, await decoded(iface, send(...args))),
    });
    for (const part of ["name", "fragment", "getFragment"]) {
      Object.defineProperty(call, part, { value: method[part] });
    }
    Object.defineProperty(call, "_contract", { value: contract });
    return call;
  };
  return new Proxy(contract, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== "string" || typeof value !== "function") return value;
      const isFunction = (() => {
        try {
          return iface.getFunction(prop) !== null && !(prop in Contract.prototype);
        } catch {
          return false; // an ambiguous overloaded name: ethers throws when it is called too
        }
      })();
      if (prop === "connect") {
        return (runner: ContractRunner | null) => withRevertDecoding(target.connect(runner));
      }
      if (prop === "getFunction") {
        return (key: string) => wrap(key, target.getFunction(key) as never);
      }
      if (!isFunction) return value;
      let method = methods.get(prop);
      if (method === undefined) {
        method = wrap(prop, value as never);
        methods.set(prop, method);
      }
      return method;
    },
  });
}

/**
 * The contract at `address`, with the artifact's ABI, connected to `runner` (a Signer to send
 * transactions, a Provider to call only).
 */
export function attach<A extends readonly JsonFragment[]>(
  source: ArtifactSource<A>,
  address: string,
  runner?: ContractRunner | null,
): SuperVMContract<A> {
  const artifact = loadArtifact(source);
  const contract = new Contract(address, artifact.abi as unknown as JsonFragment[], runner ?? null);
  return withRevertDecoding(contract) as unknown as SuperVMContract<A>;
}

/**
 * Deploy an artifact (WASM or EVM) with `signer` and wait until it is mined.
 *
 * @param source the artifact or its path.
 * @param signer any ethers Signer connected to a provider (a Wallet, a JsonRpcSigner,
 *   Hardhat's signers).
 * @param args the constructor arguments.
 * @param overrides gas, fees, nonce or value for the create transaction.
 * @throws ContractRevertError when the constructor reverts.
 */
export async function deploy<A extends readonly JsonFragment[]>(
  source: ArtifactSource<A>,
  signer: Signer,
  args: ConstructorArgs<A> | readonly unknown[] = [],
  overrides: DeployOverrides = {},
): Promise<Deployment<A>> {
  const artifact = loadArtifact(source);
  const iface = new Interface(artifact.abi as unknown as JsonFragment[]);
  const factory = new ContractFactory(iface, artifact.bytecode, signer);
  const tx = await decoded(iface, factory.getDeployTransaction(...(args as unknown[]), overrides));
  const response = await decoded(iface, signer.sendTransaction(tx));
  let receipt: TransactionReceipt | null;
  try {
    receipt = await response.wait();
  } catch (error) {
    if ((error as { code?: unknown }).code !== "CALL_EXCEPTION") throw error;
    throw await replayedRevert(iface, signer, response as ContractTransactionResponse, error);
  }
  if (receipt === null || receipt.contractAddress == null) {
    throw new Error(`deploying ${artifact.name}: the receipt of ${response.hash} has no contract address`);
  }
  const contract = attach(artifact, receipt.contractAddress, signer);
  await registerArtifact(providerOf(signer), artifact, receipt.contractAddress);
  return { contract, address: receipt.contractAddress, receipt };
}

/**
 * Tell a SuperVM node about a deployed artifact (`supervm_registerArtifact`), so that its
 * explorer shows the contract's calls and events decoded. Best effort: a node without the
 * explorer, another client's node, or a provider that cannot send raw requests is left alone.
 * Returns whether the node took it.
 */
export async function registerArtifact(
  provider: Provider | null,
  artifact: SuperVMArtifact,
  address?: string,
): Promise<boolean> {
  const send = (provider as { send?: (method: string, params: unknown[]) => Promise<unknown> } | null)?.send;
  if (typeof send !== "function" || artifact.compiler === undefined) return false;
  try {
    await send.call(provider, "supervm_registerArtifact", address ? [artifact, address] : [artifact]);
    return true;
  } catch {
    return false;
  }
}
