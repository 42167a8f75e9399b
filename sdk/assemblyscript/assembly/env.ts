// Raw bindings of SuperVM's host ABI: every function of docs/host-abi.md, imported from the
// module "supervm". Pointers and lengths are offsets into the contract's linear memory.
// Prefer the typed helpers (Storage*, Context, emitLog, revert, ...) over calling these directly.

export namespace env {
  // -- storage ------------------------------------------------------------------------------

  /** Looks up a key; returns the value's length, or -1 if absent. Keeps the value for storage_read_value. */
  // @ts-ignore: decorator
  @external("supervm", "storage_get")
  export declare function storage_get(key_ptr: usize, key_len: usize): i64;

  /** Copies up to `len` bytes of the value kept by the last storage_get to `ptr`; returns the bytes written. */
  // @ts-ignore: decorator
  @external("supervm", "storage_read_value")
  export declare function storage_read_value(ptr: usize, len: usize): i32;

  /**
   * storage_get and storage_read_value in one call: copies up to `out_len` bytes of the value to
   * `out_ptr` and returns its full length, or -1 if the key is absent (nothing is written then).
   */
  // @ts-ignore: decorator
  @external("supervm", "storage_read")
  export declare function storage_read(key_ptr: usize, key_len: usize, out_ptr: usize, out_len: usize): i64;

  /** Stores a value under a key; returns 0. */
  // @ts-ignore: decorator
  @external("supervm", "storage_set")
  export declare function storage_set(key_ptr: usize, key_len: usize, val_ptr: usize, val_len: usize): i32;

  /** Deletes a key (deleting an absent key is not an error); returns 0. */
  // @ts-ignore: decorator
  @external("supervm", "storage_delete")
  export declare function storage_delete(key_ptr: usize, key_len: usize): i32;

  /** Adds the 32-byte little-endian number at amount_ptr to a key's value without reading it
   * (absent = 0; modulo 2**256): credits that do not conflict with each other; returns 0. */
  // @ts-ignore: decorator
  @external("supervm", "storage_add")
  export declare function storage_add(key_ptr: usize, key_len: usize, amount_ptr: usize): i32;

  // -- chain and call context ---------------------------------------------------------------

  /** The number of the block being executed. */
  // @ts-ignore: decorator
  @external("supervm", "block_number")
  export declare function block_number(): i64;

  /** The block's timestamp, in seconds. */
  // @ts-ignore: decorator
  @external("supervm", "timestamp")
  export declare function timestamp(): i64;

  /** Writes the caller's 20-byte address to `out_ptr`. */
  // @ts-ignore: decorator
  @external("supervm", "caller")
  export declare function caller(out_ptr: usize): void;

  /** Writes the contract's own 20-byte address to `out_ptr`. */
  // @ts-ignore: decorator
  @external("supervm", "self_address")
  export declare function self_address(out_ptr: usize): void;

  /** Writes the call's value (`msg.value`), 32 bytes big-endian, to `out_ptr`. */
  // @ts-ignore: decorator
  @external("supervm", "call_value")
  export declare function call_value(out_ptr: usize): void;

  /** The length of the call data. */
  // @ts-ignore: decorator
  @external("supervm", "input_len")
  export declare function input_len(): i32;

  /** Copies the whole call data to `ptr`. */
  // @ts-ignore: decorator
  @external("supervm", "read_input")
  export declare function read_input(ptr: usize): void;

  /** Sets the call's return data (a later call replaces it). */
  // @ts-ignore: decorator
  @external("supervm", "set_return")
  export declare function set_return(ptr: usize, len: usize): void;

  /** Ends the call at once with error kind `revert`; the bytes become the revert data. */
  // @ts-ignore: decorator
  @external("supervm", "revert")
  export declare function revert(ptr: usize, len: usize): void;

  /** The gas remaining. */
  // @ts-ignore: decorator
  @external("supervm", "gas_left")
  export declare function gas_left(): i64;

  // -- events and logs ----------------------------------------------------------------------

  /** Emits an opaque event; returns 0. */
  // @ts-ignore: decorator
  @external("supervm", "emit_event")
  export declare function emit_event(ptr: usize, len: usize): i32;

  /** The number of events this call emitted. */
  // @ts-ignore: decorator
  @external("supervm", "events_len")
  export declare function events_len(): i32;

  /** Copies up to `len` bytes of event `index` to `ptr`; returns the bytes written, or -1. */
  // @ts-ignore: decorator
  @external("supervm", "read_event")
  export declare function read_event(index: i32, ptr: usize, len: usize): i32;

  /** Emits an Ethereum log: `n_topics` (0-4) 32-byte topics read from `topics_ptr`, and the data. */
  // @ts-ignore: decorator
  @external("supervm", "emit_log")
  export declare function emit_log(topics_ptr: usize, n_topics: i32, data_ptr: usize, data_len: usize): i32;

  // -- calls --------------------------------------------------------------------------------

  /**
   * Calls the contract at `addr_ptr` (20 bytes) with the input and the 32-byte big-endian value
   * at `value_ptr`, giving it at most `gas` (capped at 63/64 of the gas left): 0 if it
   * succeeded, 1 if it reverted or failed.
   */
  // @ts-ignore: decorator
  @external("supervm", "call_contract")
  export declare function call_contract(addr_ptr: usize, input_ptr: usize, input_len: usize, value_ptr: usize, gas: i64): i32;

  /** Calls a contract that may not change state (nor may anything it calls): 0 or 1. */
  // @ts-ignore: decorator
  @external("supervm", "call_static")
  export declare function call_static(addr_ptr: usize, input_ptr: usize, input_len: usize, gas: i64): i32;

  /** Runs a contract's code on this contract's storage, caller and value: 0 or 1. */
  // @ts-ignore: decorator
  @external("supervm", "call_delegate")
  export declare function call_delegate(addr_ptr: usize, input_ptr: usize, input_len: usize, gas: i64): i32;

  /** The length of the last call's return or revert data. */
  // @ts-ignore: decorator
  @external("supervm", "return_data_len")
  export declare function return_data_len(): i32;

  /** Copies the last call's return or revert data to `ptr`. */
  // @ts-ignore: decorator
  @external("supervm", "read_return_data")
  export declare function read_return_data(ptr: usize): void;

  // -- crypto -------------------------------------------------------------------------------

  /** Writes the 32-byte SHA-256 digest of [ptr, ptr+len) to `out_ptr`; returns 0. */
  // @ts-ignore: decorator
  @external("supervm", "sha256")
  export declare function sha256(ptr: usize, len: usize, out_ptr: usize): i32;

  /** Writes the 32-byte Keccak-256 (Ethereum's) digest of [ptr, ptr+len) to `out_ptr`; returns 0. */
  // @ts-ignore: decorator
  @external("supervm", "keccak256")
  export declare function keccak256(ptr: usize, len: usize, out_ptr: usize): i32;

  /** Verifies a 64-byte Ed25519 signature with a 32-byte public key: 1 valid, 0 invalid, <0 malformed. */
  // @ts-ignore: decorator
  @external("supervm", "verify_ed25519")
  export declare function verify_ed25519(msg_ptr: usize, msg_len: usize, sig_ptr: usize, pubkey_ptr: usize): i32;

  /** Verifies a 64-byte compact secp256k1 signature of a 32-byte hash: 1 valid, 0 invalid, <0 malformed. */
  // @ts-ignore: decorator
  @external("supervm", "verify_secp256k1")
  export declare function verify_secp256k1(msg_ptr: usize, sig_ptr: usize, pubkey_ptr: usize, pubkey_len: usize): i32;

  /** Recovers the 65-byte uncompressed public key from a hash and a 65-byte (r, s, v) signature; 0 or -1. */
  // @ts-ignore: decorator
  @external("supervm", "recover_secp256k1_pubkey")
  export declare function recover_secp256k1_pubkey(msg_ptr: usize, sig_ptr: usize, out_ptr: usize): i32;

  /** Writes the 20-byte Ethereum address of a secp256k1 public key (64, 65 or 33 bytes); 0, -1 or -2. */
  // @ts-ignore: decorator
  @external("supervm", "derive_eth_address")
  export declare function derive_eth_address(pubkey_ptr: usize, pubkey_len: usize, out_ptr: usize): i32;
}
