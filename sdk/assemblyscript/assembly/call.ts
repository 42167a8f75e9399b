// Calling other contracts (WebAssembly or EVM, or a precompile): call, static call, delegate
// call, their return data, and calling a function by its Solidity signature.
//
//   const r = callFunction(token, "transfer(address,uint256)",
//     new AbiEncoder(2).address(to).u256(amount));
//   if (!r.success) revertWith(r.data);          // or: r.unwrap()
//   const ok = AbiDecoder.of(r.data).bool();
import { u256 } from "as-bignum/assembly";
import { env } from "./env";
import { Address } from "./address";
import { AbiDecoder, AbiEncoder, readU256, writeU256 } from "./abi";
import { alloc } from "./bytes";
import { keccak256String } from "./crypto";
import { revertWith } from "./revert";

/** Gas that means "all the callee may have": the host caps it at 63/64 of the gas left. */
export const ALL_GAS: u64 = <u64>i64.MAX_VALUE;

/** The outcome of a call: whether the callee succeeded, and its return (or revert) data. */
export class CallResult {
  constructor(
    /** Whether the callee succeeded; false if it reverted or failed in any other way. */
    public readonly success: bool,
    /** The callee's return data, or its revert data if it reverted (empty for other failures). */
    public readonly data: Uint8Array,
  ) {}

  /** The return data; if the call failed, reverts this call with the callee's revert data. */
  unwrap(): Uint8Array {
    if (!this.success) revertWith(this.data);
    return this.data;
  }

  /** A decoder over the return data, for ABI-encoded results. */
  decoder(): AbiDecoder {
    return AbiDecoder.of(this.data);
  }
}

/** The return or revert data of the last call this contract made (empty before any). */
export function returnData(): Uint8Array {
  const n = env.return_data_len();
  const out = new Uint8Array(n);
  if (n > 0) env.read_return_data(out.dataStart);
  return out;
}

function finish(status: i32): CallResult {
  return new CallResult(status == 0, returnData());
}

/**
 * Calls the contract at `address` with `input`, moving `value` wei to it (`msg.value`), with at
 * most `gas` (default: all it may have). A failed call does not revert this one: check
 * `success`, or `unwrap()` to pass the callee's revert on.
 */
export function callContract(
  address: Address, input: Uint8Array, value: u256 = u256.Zero, gas: u64 = ALL_GAS,
): CallResult {
  const v = alloc(32);
  writeU256(v, 0, value, 256);
  return finish(env.call_contract(address.ptr, input.dataStart, <usize>input.length, v, <i64>gas));
}

/** Calls `address` without value; neither it nor what it calls may change state (`STATICCALL`). */
export function staticCall(address: Address, input: Uint8Array, gas: u64 = ALL_GAS): CallResult {
  return finish(env.call_static(address.ptr, input.dataStart, <usize>input.length, <i64>gas));
}

/**
 * Runs the code of `address` as this contract: on this contract's storage, with its caller and
 * value (`DELEGATECALL`), as a proxy or a library call does.
 */
export function delegateCall(address: Address, input: Uint8Array, gas: u64 = ALL_GAS): CallResult {
  return finish(env.call_delegate(address.ptr, input.dataStart, <usize>input.length, <i64>gas));
}

/** The wei this call carries (`msg.value`). */
export function callValue(): u256 {
  const p = alloc(32);
  env.call_value(p);
  return readU256(p, 32, 0, 256);
}

/** The 4-byte selector of a Solidity function signature, e.g. `"transfer(address,uint256)"`. */
export function selectorOf(signature: string): Uint8Array {
  return keccak256String(signature).subarray(0, 4);
}

/** Call data for `signature` with ABI-encoded `args` (an AbiEncoder with the arguments, or null). */
export function encodeCall(signature: string, args: AbiEncoder | null = null): Uint8Array {
  const size = args === null ? 0 : <i32>args.size;
  const out = new Uint8Array(4 + size);
  memory.copy(out.dataStart, selectorOf(signature).dataStart, 4);
  if (args !== null) memory.copy(out.dataStart + 4, args.ptr, <usize>size);
  return out;
}

/** Calls the function `signature` of the contract at `address` with `args` (see encodeCall). */
export function callFunction(
  address: Address, signature: string, args: AbiEncoder | null = null,
  value: u256 = u256.Zero, gas: u64 = ALL_GAS,
): CallResult {
  return callContract(address, encodeCall(signature, args), value, gas);
}

/** Calls the function `signature` of `address` with a static call (for view functions). */
export function staticCallFunction(
  address: Address, signature: string, args: AbiEncoder | null = null, gas: u64 = ALL_GAS,
): CallResult {
  return staticCall(address, encodeCall(signature, args), gas);
}
