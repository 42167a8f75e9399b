// The call's context: who called, which contract runs, the block.
import { env } from "./env";
import { Address } from "./address";
import { alloc, bytesFrom } from "./bytes";

// Cached per call (every call runs in a fresh instance): each is one host call at most.
let callerPtr: usize = 0;
let selfPtr: usize = 0;
let inputPtr: usize = 0;
let inputLength: usize = 0;

/** Reads the call data once; returns where it is. */
export function loadInput(): usize {
  if (inputPtr == 0) {
    const n = <usize>env.input_len();
    const p = alloc(n > 0 ? n : 1);
    if (n > 0) env.read_input(p);
    inputLength = n;
    inputPtr = p;
  }
  return inputPtr;
}

/** The length of the call data (reads it if not read yet). */
export function inputLen(): usize {
  loadInput();
  return inputLength;
}

/** The chain and call context of the running call. */
export class Context {
  /** The account that made this call (`msg.sender`). */
  static get caller(): Address {
    if (callerPtr == 0) {
      callerPtr = alloc(20);
      env.caller(callerPtr);
    }
    return Address.fromPtr(callerPtr);
  }

  /** This contract's own address (`address(this)`). */
  static get self(): Address {
    if (selfPtr == 0) {
      selfPtr = alloc(20);
      env.self_address(selfPtr);
    }
    return Address.fromPtr(selfPtr);
  }

  /** The number of the block being executed (`block.number`). */
  static get blockNumber(): u64 {
    return <u64>env.block_number();
  }

  /** The block's timestamp in seconds (`block.timestamp`). */
  static get timestamp(): u64 {
    return <u64>env.timestamp();
  }

  /** The gas remaining (`gasleft()`). */
  static get gasLeft(): u64 {
    return <u64>env.gas_left();
  }

  /** A copy of the raw call data (`msg.data`). */
  static get input(): Uint8Array {
    const p = loadInput();
    return bytesFrom(p, inputLength);
  }
}

/** Sets the call's return data. */
export function setReturn(data: Uint8Array): void {
  env.set_return(data.dataStart, <usize>data.length);
}
