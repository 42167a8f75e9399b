// Revert reasons, decoded: Solidity's Error(string) and Panic(uint256), and the custom errors an
// ABI declares. A SuperVM contract reverts with exactly Solidity's revert data whatever VM runs
// it (docs/contracts.md, "ABI conventions"), so one decoder serves WASM and EVM contracts.
import { AbiCoder, Interface, dataSlice, getBytes, hexlify, isBytesLike } from "ethers";
import type { BytesLike, InterfaceAbi } from "ethers";

/** Selector of Solidity's `Error(string)`. */
export const ERROR_SELECTOR = "0x08c379a0";
/** Selector of Solidity's `Panic(uint256)`. */
export const PANIC_SELECTOR = "0x4e487b71";

/** What Solidity's panic codes mean (the Solidity docs' list); the SDK's `panic(code)` uses the same. */
export const PANIC_REASONS: Readonly<Record<number, string>> = {
  0x00: "generic panic",
  0x01: "assertion failed",
  0x11: "arithmetic overflow or underflow",
  0x12: "division or modulo by zero",
  0x21: "value out of range for an enum",
  0x22: "incorrectly encoded storage byte array",
  0x31: "pop() on an empty array",
  0x32: "array index out of bounds",
  0x41: "out of memory",
  0x51: "call to an uninitialised function",
};

/**
 * `Error`: `Error(string)`, with `reason`; `Panic`: `Panic(uint256)`, with `panicCode`;
 * `custom`: an error the ABI declares, with `errorName` and `args`; `empty`: no revert data
 * (out of gas, a failed transaction replayed without data); `unknown`: data none of these decode.
 */
export type RevertKind = "Error" | "Panic" | "custom" | "empty" | "unknown";

/** Revert data, decoded. */
export interface DecodedRevert {
  readonly kind: RevertKind;
  /** The revert data, 0x-hex (`0x` when there was none). */
  readonly data: string;
  /** The error's name: `Error`, `Panic`, or the custom error's (undefined for empty/unknown). */
  readonly errorName?: string;
  /** Its signature, e.g. `TooLarge(uint256,uint256)`. */
  readonly signature?: string;
  /** Its decoded arguments, in order. */
  readonly args: readonly unknown[];
  /** The `Error(string)` reason, or a description of the panic / custom error. */
  readonly reason?: string;
  /** The `Panic(uint256)` code. */
  readonly panicCode?: bigint;
}

function describeArgs(args: readonly unknown[]): string {
  return args.map((a) => (typeof a === "string" ? JSON.stringify(a) : String(a))).join(", ");
}

/**
 * Decode revert data.
 *
 * @param data the revert data (the `data` of a JSON-RPC error with code 3).
 * @param abi the contract's ABI (or an ethers Interface), to decode its custom errors.
 */
export function decodeRevert(data: BytesLike | null | undefined, abi?: InterfaceAbi | Interface): DecodedRevert {
  const hex = data == null ? "0x" : hexlify(data);
  if (getBytes(hex).length === 0) return { kind: "empty", data: hex, args: [] };
  const selector = getBytes(hex).length >= 4 ? dataSlice(hex, 0, 4).toLowerCase() : "";
  const coder = AbiCoder.defaultAbiCoder();
  try {
    if (selector === ERROR_SELECTOR) {
      const [reason] = coder.decode(["string"], dataSlice(hex, 4)) as unknown as [string];
      return { kind: "Error", data: hex, errorName: "Error", signature: "Error(string)", args: [reason], reason };
    }
    if (selector === PANIC_SELECTOR) {
      const [code] = coder.decode(["uint256"], dataSlice(hex, 4)) as unknown as [bigint];
      const meaning = PANIC_REASONS[Number(code)] ?? "unknown panic code";
      return {
        kind: "Panic",
        data: hex,
        errorName: "Panic",
        signature: "Panic(uint256)",
        args: [code],
        panicCode: code,
        reason: `Panic(0x${code.toString(16).padStart(2, "0")}): ${meaning}`,
      };
    }
  } catch {
    return { kind: "unknown", data: hex, args: [] };
  }
  if (abi !== undefined) {
    const iface = abi instanceof Interface ? abi : new Interface(abi);
    try {
      const parsed = iface.parseError(hex);
      if (parsed !== null) {
        const args = [...parsed.args];
        return {
          kind: "custom",
          data: hex,
          errorName: parsed.name,
          signature: parsed.signature,
          args,
          reason: `${parsed.name}(${describeArgs(args)})`,
        };
      }
    } catch {
      // A known selector whose arguments do not decode: fall through to unknown.
    }
  }
  return { kind: "unknown", data: hex, args: [] };
}

/** A call or transaction that reverted, with its revert data decoded. `cause` is the ethers error. */
export class ContractRevertError extends Error implements DecodedRevert {
  override readonly name = "ContractRevertError";
  readonly kind: RevertKind;
  readonly data: string;
  readonly errorName?: string;
  readonly signature?: string;
  readonly args: readonly unknown[];
  readonly reason?: string;
  readonly panicCode?: bigint;
  /** The transaction's hash, when a sent transaction reverted (rather than a call or estimate). */
  readonly transactionHash?: string;

  constructor(decoded: DecodedRevert, options: { cause?: unknown; what?: string; transactionHash?: string } = {}) {
    const what = options.what ?? "execution reverted";
    const detail =
      decoded.kind === "Error" || decoded.kind === "Panic" || decoded.kind === "custom"
        ? `: ${decoded.reason}`
        : decoded.kind === "empty"
          ? " without a reason"
          : ` with undecoded data ${decoded.data.slice(0, 74)}`;
    super(`${what}${detail}`, { cause: options.cause });
    this.kind = decoded.kind;
    this.data = decoded.data;
    this.errorName = decoded.errorName;
    this.signature = decoded.signature;
    this.args = decoded.args;
    this.reason = decoded.reason;
    this.panicCode = decoded.panicCode;
    this.transactionHash = options.transactionHash;
  }
}

const REVERT_MESSAGE = /revert/i;

/**
 * The revert data in an error from ethers, a JSON-RPC error or Hardhat's provider, or undefined
 * when the error is not a revert. Looks through the shapes they nest it in (`data`, `error`,
 * `info.error`, `cause`).
 */
export function revertDataOf(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const search = (value: unknown, depth: number): string | undefined => {
    if (typeof value !== "object" || value === null || seen.has(value) || depth > 6) return undefined;
    seen.add(value);
    const record = value as Record<string, unknown>;
    const data = record.data;
    if (typeof data === "string" && isBytesLike(data)) {
      // ethers' CALL_EXCEPTION carries the data itself; a JSON-RPC error has code 3 with it.
      if (record.code === "CALL_EXCEPTION" || record.code === 3 || REVERT_MESSAGE.test(String(record.message ?? ""))) {
        return data;
      }
    }
    if (typeof data === "object" && data !== null) {
      const nested = (data as Record<string, unknown>).data;
      if (typeof nested === "string" && isBytesLike(nested)) return nested;
    }
    for (const key of ["error", "info", "cause", "data"]) {
      const found = search(record[key], depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return search(error, 0);
}

/** Whether `error` says a call, estimate or transaction reverted (ethers' CALL_EXCEPTION). */
export function isRevert(error: unknown): boolean {
  if (error instanceof ContractRevertError) return true;
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === "CALL_EXCEPTION" || revertDataOf(error) !== undefined;
}

/**
 * `error` as a {@link ContractRevertError} when it is a revert (returned as is when it already
 * is one), otherwise `error` unchanged.
 *
 * @param abi the contract's ABI, to decode its custom errors.
 */
export function asRevertError(error: unknown, abi?: InterfaceAbi | Interface): unknown {
  if (error instanceof ContractRevertError || !isRevert(error)) return error;
  const decoded = decodeRevert(revertDataOf(error), abi);
  const hash = (error as { receipt?: { hash?: string } }).receipt?.hash;
  return new ContractRevertError(decoded, { cause: error, transactionHash: hash });
}
