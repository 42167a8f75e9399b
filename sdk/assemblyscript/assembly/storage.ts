// Contract storage: raw keys and values, and typed cells and maps.
//
// A StorageValue named "x" lives under the key `x`; a StorageMap named "m" keeps `m[k]` under
// `m ‖ 0x00 ‖ enc(k)`, a StorageMap2 keeps `m[k1][k2]` under `m ‖ 0x00 ‖ enc(k1) ‖ enc(k2)`
// (variable-length first keys carry a 4-byte length). Names must be unique per contract and
// must not contain a NUL; keys starting with 0xff are reserved for the SDK.
import { u128, i128, u256 } from "as-bignum/assembly";
import { i256 } from "as-bignum/assembly/integer/i256";
import { env } from "./env";
import { Address } from "./address";
import { alloc, bytesFrom } from "./bytes";

// Where fixed-size values (up to 32 bytes) are read and written; valid until the next access.
const SCRATCH: usize = memory.data(32);

// -- raw access -----------------------------------------------------------------------------

/** Raw storage: byte keys (at most 256 bytes) and byte values (at most 65,536 bytes). */
export class Storage {
  /** The value under `key`, or null. */
  static get(key: Uint8Array): Uint8Array | null {
    const n = env.storage_get(key.dataStart, <usize>key.length);
    if (n < 0) return null;
    const out = new Uint8Array(<i32>n);
    if (n > 0) env.storage_read_value(out.dataStart, <usize>n);
    return out;
  }

  /**
   * Reads the value under [keyPtr, keyPtr + keyLen) into [out, out + outLen) with one host
   * call: returns the value's full length (it was truncated if that exceeds outLen), or -1.
   */
  static read(keyPtr: usize, keyLen: usize, out: usize, outLen: usize): i64 {
    return env.storage_read(keyPtr, keyLen, out, outLen);
  }

  /** Stores `value` under `key`. */
  static set(key: Uint8Array, value: Uint8Array): void {
    env.storage_set(key.dataStart, <usize>key.length, value.dataStart, <usize>value.length);
  }

  /** Whether `key` has a value. */
  static has(key: Uint8Array): bool {
    return env.storage_get(key.dataStart, <usize>key.length) >= 0;
  }

  /** Deletes `key` (no error if absent). */
  static delete(key: Uint8Array): void {
    env.storage_delete(key.dataStart, <usize>key.length);
  }
}

// -- encoding of keys and values ------------------------------------------------------------

/** The encoded size of values of type T if fixed, else -1. */
// @ts-ignore: decorator
@inline
export function fixedSize<T>(): i32 {
  if (isBoolean<T>()) return 1;
  if (isInteger<T>() || isFloat<T>()) return sizeof<T>();
  if (isString<T>()) return -1;
  const dummy = changetype<T>(0);
  if (dummy instanceof Address) return 20;
  if (dummy instanceof u256) return 32;
  if (dummy instanceof i256) return 32;
  if (dummy instanceof u128) return 16;
  if (dummy instanceof i128) return 16;
  if (dummy instanceof Uint8Array) return -1;
  ERROR("storage supports bool, integers, floats, Address, u128, i128, u256, i256, string and Uint8Array");
  return -1;
}

/** The encoded size of `value`. */
// @ts-ignore: decorator
@inline
export function encodedSize<T>(value: T): usize {
  const fixed = fixedSize<T>();
  if (fixed >= 0) return <usize>fixed;
  if (isString<T>()) return <usize>String.UTF8.byteLength(changetype<string>(value));
  return <usize>changetype<Uint8Array>(value).length;
}

/**
 * Writes `value` at `p` (encodedSize<T>(value) bytes). Numbers, including u128/i128/u256/i256,
 * are stored little-endian (storage is the contract's own: no byte swapping on the hot path).
 */
export function encodeTo<T>(value: T, p: usize): void {
  if (isBoolean<T>()) {
    store<u8>(p, value ? 1 : 0);
  } else if (isInteger<T>() || isFloat<T>()) {
    store<T>(p, value);
  } else if (isString<T>()) {
    const s = changetype<string>(value);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, p);
  } else if (value instanceof Address) {
    memory.copy(p, changetype<usize>(value), 20);
  } else if (value instanceof u256) {
    const v = changetype<u256>(value);
    store<u64>(p, v.lo1);
    store<u64>(p, v.lo2, 8);
    store<u64>(p, v.hi1, 16);
    store<u64>(p, v.hi2, 24);
  } else if (value instanceof i256) {
    const v = changetype<i256>(value);
    store<i64>(p, v.lo1);
    store<i64>(p, v.lo2, 8);
    store<i64>(p, v.hi1, 16);
    store<i64>(p, v.hi2, 24);
  } else if (value instanceof u128) {
    const v = changetype<u128>(value);
    store<u64>(p, v.lo);
    store<u64>(p, v.hi, 8);
  } else if (value instanceof i128) {
    const v = changetype<i128>(value);
    store<u64>(p, v.lo);
    store<i64>(p, v.hi, 8);
  } else if (value instanceof Uint8Array) {
    const b = changetype<Uint8Array>(value);
    memory.copy(p, b.dataStart, <usize>b.length);
  } else {
    ERROR("unsupported storage type");
  }
}

// Where a fixed-size value of `size` bytes stored in `len` bytes at `p` can be loaded from:
// `p` itself if it is long enough, else a zero-padded copy in SCRATCH.
function padded(p: usize, len: usize, size: usize): usize {
  if (len >= size) return p;
  if (p != SCRATCH) memory.copy(SCRATCH, p, len);
  memory.fill(SCRATCH + len, 0, size - len);
  return SCRATCH;
}

/** Decodes a value of type T from the `len` bytes at `p`. */
export function decodeFrom<T>(p: usize, len: usize): T {
  if (isBoolean<T>()) {
    // @ts-ignore: T is bool
    return <T>(len > 0 && load<u8>(p) != 0);
  } else if (isInteger<T>() || isFloat<T>()) {
    return load<T>(padded(p, len, <usize>sizeof<T>()));
  } else if (isString<T>()) {
    return changetype<T>(String.UTF8.decodeUnsafe(p, len));
  } else {
    const dummy = changetype<T>(0);
    if (dummy instanceof Address) {
      const q = alloc(20);
      memory.copy(q, padded(p, len, 20), 20);
      return changetype<T>(q);
    } else if (dummy instanceof u256) {
      const q = padded(p, len, 32);
      return changetype<T>(new u256(load<u64>(q), load<u64>(q, 8), load<u64>(q, 16), load<u64>(q, 24)));
    } else if (dummy instanceof i256) {
      const q = padded(p, len, 32);
      return changetype<T>(new i256(load<i64>(q), load<i64>(q, 8), load<i64>(q, 16), load<i64>(q, 24)));
    } else if (dummy instanceof u128) {
      const q = padded(p, len, 16);
      return changetype<T>(new u128(load<u64>(q), load<u64>(q, 8)));
    } else if (dummy instanceof i128) {
      const q = padded(p, len, 16);
      return changetype<T>(new i128(load<u64>(q), load<i64>(q, 8)));
    } else if (dummy instanceof Uint8Array) {
      return changetype<T>(bytesFrom(p, len));
    }
  }
  ERROR("unsupported storage type");
  return changetype<T>(0);
}

/** The value an absent key reads as: zero, false, the zero address, "" or empty bytes. */
export function zeroValue<T>(): T {
  if (isBoolean<T>()) {
    // @ts-ignore: T is bool
    return <T>false;
  } else if (isInteger<T>() || isFloat<T>()) {
    return <T>0;
  } else if (isString<T>()) {
    return changetype<T>("");
  } else {
    const dummy = changetype<T>(0);
    if (dummy instanceof Address) return changetype<T>(Address.zero());
    if (dummy instanceof u256) return changetype<T>(new u256());
    if (dummy instanceof i256) return changetype<T>(new i256());
    if (dummy instanceof u128) return changetype<T>(new u128());
    if (dummy instanceof i128) return changetype<T>(new i128());
    if (dummy instanceof Uint8Array) return changetype<T>(new Uint8Array(0));
  }
  ERROR("unsupported storage type");
  return changetype<T>(0);
}

// -- reading and writing under a key in memory ----------------------------------------------

// Values up to this size are read with one `storage_read`; longer ones take a second call.
const READ_AHEAD: usize = 64;

/**
 * Reads the value under the key at [k, k + kn): one `storage_read` host call for fixed-size
 * values and short strings/bytes. Returns whether the key exists; the value is left at
 * `readPtr` (`readLen` bytes).
 */
let readPtr: usize = 0;
let readLen: usize = 0;

function read<T>(k: usize, kn: usize): bool {
  const fixed = fixedSize<T>();
  if (fixed >= 0) {
    const n = env.storage_read(k, kn, SCRATCH, 32);
    if (n < 0) return false;
    readPtr = SCRATCH;
    readLen = n > 32 ? 32 : <usize>n;
    return true;
  }
  let p = alloc(READ_AHEAD);
  const n = env.storage_read(k, kn, p, READ_AHEAD);
  if (n < 0) return false;
  if (<u64>n > <u64>READ_AHEAD) {
    p = alloc(<usize>n);
    env.storage_read(k, kn, p, <usize>n);
  }
  readPtr = p;
  readLen = <usize>n;
  return true;
}

/** Whether the key at [k, k + kn) exists (one `storage_get`). */
// @ts-ignore: decorator
@inline
function lookup(k: usize, kn: usize): i64 {
  return env.storage_get(k, kn);
}

function getAt<T>(k: usize, kn: usize, otherwise: T): T {
  if (!read<T>(k, kn)) return otherwise;
  return decodeFrom<T>(readPtr, readLen);
}

function getAtOrZero<T>(k: usize, kn: usize): T {
  if (!read<T>(k, kn)) return zeroValue<T>();
  return decodeFrom<T>(readPtr, readLen);
}

function setAt<T>(k: usize, kn: usize, value: T): void {
  const fixed = fixedSize<T>();
  if (fixed >= 0) {
    encodeTo<T>(value, SCRATCH);
    env.storage_set(k, kn, SCRATCH, <usize>fixed);
    return;
  }
  const n = encodedSize<T>(value);
  const p = alloc(n > 0 ? n : 1);
  encodeTo<T>(value, p);
  env.storage_set(k, kn, p, n);
}

// The UTF-8 of a storage name in a new buffer with `extra` bytes to spare; its length is left
// in nameLength. Names must not contain NUL. ASCII names (the usual case) take a fast path.
let nameLength: usize = 0;

function nameBytes(name: string, extra: usize): usize {
  const chars = <usize>name.length;
  const src = changetype<usize>(name);
  let ascii = true;
  for (let i: usize = 0; i < chars; i++) {
    const c = load<u16>(src + (i << 1));
    if (c == 0) throw new Error("storage names must not contain NUL");
    if (c >= 0x80) ascii = false;
  }
  if (ascii) {
    const p = alloc(chars + extra);
    for (let i: usize = 0; i < chars; i++) store<u8>(p + i, <u8>load<u16>(src + (i << 1)));
    nameLength = chars;
    return p;
  }
  const n = <usize>String.UTF8.byteLength(name);
  const p = alloc(n + extra);
  String.UTF8.encodeUnsafe(src, name.length, p);
  nameLength = n;
  return p;
}

// -- typed cells ----------------------------------------------------------------------------

/** One value of type V under the key `name` (`uint256 public totalSupply;`). */
export class StorageValue<V> {
  private key: usize = 0;
  private keyLen: usize = 0;

  constructor(public readonly name: string) {}

  private k(): usize {
    if (this.key == 0) {
      this.key = nameBytes(this.name, 0);
      this.keyLen = nameLength;
    }
    return this.key;
  }

  /** The value, or zero / "" / the zero address if never set. */
  get(): V {
    const k = this.k();
    return getAtOrZero<V>(k, this.keyLen);
  }

  /** The value, or `otherwise` if never set. */
  getOr(otherwise: V): V {
    const k = this.k();
    return getAt<V>(k, this.keyLen, otherwise);
  }

  set(value: V): void {
    const k = this.k();
    setAt<V>(k, this.keyLen, value);
  }

  has(): bool {
    const k = this.k();
    return lookup(k, this.keyLen) >= 0;
  }

  delete(): void {
    const k = this.k();
    env.storage_delete(k, this.keyLen);
  }
}

/** A mapping K => V under the prefix `name` (`mapping(address => uint256) balances;`). */
export class StorageMap<K, V> {
  // Prefix ‖ 0x00 ‖ room for a fixed-size key, built on first use.
  private buf: usize = 0;
  private prefixLen: usize = 0;

  constructor(public readonly name: string) {}

  /** The key of `key` in memory; its length is left in keyLen. */
  private keyLen: usize = 0;

  private keyOf(key: K): usize {
    if (this.buf == 0) {
      const fixed = fixedSize<K>();
      this.buf = nameBytes(this.name, 1 + <usize>(fixed > 0 ? fixed : 0));
      this.prefixLen = nameLength + 1;
      store<u8>(this.buf + nameLength, 0);
    }
    const fixed = fixedSize<K>();
    if (fixed >= 0) {
      encodeTo<K>(key, this.buf + this.prefixLen);
      this.keyLen = this.prefixLen + <usize>fixed;
      return this.buf;
    }
    const n = encodedSize<K>(key);
    const p = alloc(this.prefixLen + n);
    memory.copy(p, this.buf, this.prefixLen);
    encodeTo<K>(key, p + this.prefixLen);
    this.keyLen = this.prefixLen + n;
    return p;
  }

  /** The value of `key`, or zero / "" / the zero address if never set. */
  get(key: K): V {
    const k = this.keyOf(key);
    return getAtOrZero<V>(k, this.keyLen);
  }

  /** The value of `key`, or `otherwise` if never set. */
  getOr(key: K, otherwise: V): V {
    const k = this.keyOf(key);
    return getAt<V>(k, this.keyLen, otherwise);
  }

  set(key: K, value: V): void {
    const k = this.keyOf(key);
    setAt<V>(k, this.keyLen, value);
  }

  has(key: K): bool {
    const k = this.keyOf(key);
    return lookup(k, this.keyLen) >= 0;
  }

  delete(key: K): void {
    const k = this.keyOf(key);
    env.storage_delete(k, this.keyLen);
  }

  /** Adds `amount` to a u256 value without reading it (`storage_add`, modulo 2**256): a
   * credit that does not conflict with other credits to the same key. V must be u256. */
  add(key: K, amount: u256): void {
    const k = this.keyOf(key);
    encodeTo<u256>(amount, SCRATCH);
    env.storage_add(k, this.keyLen, SCRATCH);
  }
}

/** A nested mapping K1 => K2 => V (`mapping(address => mapping(address => uint256))`). */
export class StorageMap2<K1, K2, V> {
  private buf: usize = 0;
  private prefixLen: usize = 0;
  private keyLen: usize = 0;

  constructor(public readonly name: string) {}

  private keyOf(k1: K1, k2: K2): usize {
    const f1 = fixedSize<K1>();
    const f2 = fixedSize<K2>();
    if (this.buf == 0) {
      const room = f1 >= 0 && f2 >= 0 ? <usize>(f1 + f2) : 0;
      this.buf = nameBytes(this.name, 1 + room);
      this.prefixLen = nameLength + 1;
      store<u8>(this.buf + nameLength, 0);
    }
    if (f1 >= 0 && f2 >= 0) {
      encodeTo<K1>(k1, this.buf + this.prefixLen);
      encodeTo<K2>(k2, this.buf + this.prefixLen + <usize>f1);
      this.keyLen = this.prefixLen + <usize>(f1 + f2);
      return this.buf;
    }
    const n1 = encodedSize<K1>(k1);
    const n2 = encodedSize<K2>(k2);
    const len1: usize = f1 >= 0 ? 0 : 4;
    const p = alloc(this.prefixLen + len1 + n1 + n2);
    memory.copy(p, this.buf, this.prefixLen);
    let q = p + this.prefixLen;
    if (len1) {
      store<u32>(q, bswap<u32>(<u32>n1));
      q += 4;
    }
    encodeTo<K1>(k1, q);
    encodeTo<K2>(k2, q + n1);
    this.keyLen = this.prefixLen + len1 + n1 + n2;
    return p;
  }

  get(k1: K1, k2: K2): V {
    const k = this.keyOf(k1, k2);
    return getAtOrZero<V>(k, this.keyLen);
  }

  getOr(k1: K1, k2: K2, otherwise: V): V {
    const k = this.keyOf(k1, k2);
    return getAt<V>(k, this.keyLen, otherwise);
  }

  set(k1: K1, k2: K2, value: V): void {
    const k = this.keyOf(k1, k2);
    setAt<V>(k, this.keyLen, value);
  }

  has(k1: K1, k2: K2): bool {
    const k = this.keyOf(k1, k2);
    return lookup(k, this.keyLen) >= 0;
  }

  delete(k1: K1, k2: K2): void {
    const k = this.keyOf(k1, k2);
    env.storage_delete(k, this.keyLen);
  }
}
