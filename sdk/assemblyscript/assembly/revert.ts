// Reverting: Solidity's Error(string) and Panic(uint256) data, raw revert data, and the abort
// handler every `throw`, failed `assert` and runtime error of a contract goes through.
import { env } from "./env";
import { alloc, pad32, storeWordU64 } from "./bytes";

/** Selector of Solidity's `Error(string)`. */
export const ERROR_SELECTOR: u32 = 0x08c379a0;
/** Selector of Solidity's `Panic(uint256)`. */
export const PANIC_SELECTOR: u32 = 0x4e487b71;

/** Panic codes, as Solidity uses them. */
export namespace PanicCode {
  export const ASSERT: u32 = 0x01;
  export const ARITHMETIC: u32 = 0x11;
  export const DIVISION_BY_ZERO: u32 = 0x12;
  export const OUT_OF_BOUNDS: u32 = 0x32;
}

/** Ends the call with the raw revert data at [ptr, ptr + len); its writes and logs are discarded. */
export function revertRaw(ptr: usize, len: usize): void {
  env.revert(ptr, len);
  unreachable();
}

/** Ends the call with revert data `data`. */
export function revertWith(data: Uint8Array): void {
  revertRaw(data.dataStart, <usize>data.length);
}

/**
 * Ends the call, reverting with Solidity's `Error(string)` data: what `require(cond, "msg")` and
 * `revert("msg")` produce, which web3.py, ethers and viem decode as the revert reason.
 * In a function that must return a value, `throw new Error(message)` does the same and tells the
 * compiler that the function ends there.
 */
export function revert(message: string): void {
  const n = <usize>String.UTF8.byteLength(message);
  const size: usize = 4 + 64 + pad32(n);
  const p = alloc(size);
  store<u32>(p, bswap<u32>(ERROR_SELECTOR));
  storeWordU64(p + 4, 32);
  storeWordU64(p + 36, <u64>n);
  String.UTF8.encodeUnsafe(changetype<usize>(message), message.length, p + 68);
  memory.fill(p + 68 + n, 0, pad32(n) - n);
  revertRaw(p, size);
}

/** Reverts with `Error(message)` unless `condition` holds. */
export function require(condition: bool, message: string = ""): void {
  if (!condition) revert(message);
}

/** Ends the call with Solidity's `Panic(uint256)` data (e.g. 0x11 for arithmetic overflow). */
export function panic(code: u32): void {
  const p = alloc(36);
  store<u32>(p, bswap<u32>(PANIC_SELECTOR));
  storeWordU64(p + 4, <u64>code);
  revertRaw(p, 36);
}

/**
 * The contract's `abort`: the compiler routes `throw new Error(msg)`, `assert(cond, msg)` and
 * runtime errors here (asc `--use abort=...`). A message becomes `Error(message)`; an assertion
 * without one becomes `Panic(0x01)`, as in Solidity.
 */
export function __supervm_abort(
  message: string | null,
  fileName: string | null,
  lineNumber: u32,
  columnNumber: u32,
): void {
  if (message === null) panic(PanicCode.ASSERT);
  else revert(message);
}
