// Ethereum ABI encoding and decoding (the Solidity contract ABI) on raw memory.
//
// Decoders read one head slot of a tuple at `base + off` (`n` = the tuple's length in bytes,
// for bounds checks); dynamic values follow the offset stored in their slot. Malformed input
// reverts with Error("ABI decoding: ..."), as Solidity rejects it.
//
// Encoders write one head slot at `p + off`; dynamic values also write their data at `p + tail`
// and return the new tail. The generated contract glue (see transform/) calls these; contracts
// may too, with AbiDecoder/AbiEncoder for convenience.
import { u128, i128, u256 } from "as-bignum/assembly";
import { i256 } from "as-bignum/assembly/integer/i256";
import { env } from "./env";
import { Address } from "./address";
import { alloc, allBytesAre, pad32, storeWordU64 } from "./bytes";
import { revert } from "./revert";

// -- checks ---------------------------------------------------------------------------------

function invalid(what: string): void {
  revert("ABI decoding: invalid " + what);
}

function tooShort(): void {
  revert("ABI decoding: data too short");
}

function outOfRange(): void {
  revert("ABI encoding: value out of range");
}

/** The 32-byte slot at `off` of an `n`-byte tuple, or a revert if it is past the end. */
// @ts-ignore: decorator
@inline
function slot(base: usize, n: usize, off: usize): usize {
  if (off + 32 > n || off + 32 < off) tooShort();
  return base + off;
}

/** Whether the big-endian word at `p` is an unsigned integer of `bits` bits. */
export function fitsUnsigned(p: usize, bits: i32): bool {
  return allBytesAre(p, <usize>(32 - (bits >> 3)), 0);
}

/** Whether the big-endian word at `p` is a two's complement integer of `bits` bits. */
export function fitsSigned(p: usize, bits: i32): bool {
  const first = <usize>(32 - (bits >> 3));
  const sign: u8 = (load<u8>(p + first) & 0x80) != 0 ? 0xff : 0;
  return allBytesAre(p, first, sign);
}

// @ts-ignore: decorator
@inline
function loadBE(p: usize, off: usize): u64 {
  return bswap<u64>(load<u64>(p + off));
}

// @ts-ignore: decorator
@inline
function storeBE(p: usize, off: usize, v: u64): void {
  store<u64>(p + off, bswap<u64>(v));
}

// -- static decoders ------------------------------------------------------------------------

/** `address`: the 20 bytes are not copied. */
export function readAddress(base: usize, n: usize, off: usize): Address {
  const p = slot(base, n, off);
  if ((load<u64>(p) | <u64>load<u32>(p, 8)) != 0) invalid("address");
  return Address.fromPtr(p + 12);
}

/** `bool`: 0 or 1. */
export function readBool(base: usize, n: usize, off: usize): bool {
  const p = slot(base, n, off);
  const v = loadBE(p, 24);
  if ((load<u64>(p) | load<u64>(p, 8) | load<u64>(p, 16)) != 0 || v > 1) invalid("bool");
  return v == 1;
}

/** `uint<bits>` for bits <= 64. */
export function readUint(base: usize, n: usize, off: usize, bits: i32): u64 {
  const p = slot(base, n, off);
  if (!fitsUnsigned(p, bits)) invalid("uint");
  return loadBE(p, 24);
}

/** `int<bits>` for bits <= 64. */
export function readInt(base: usize, n: usize, off: usize, bits: i32): i64 {
  const p = slot(base, n, off);
  if (!fitsSigned(p, bits)) invalid("int");
  return <i64>loadBE(p, 24);
}

/** `uint<bits>` for 64 < bits <= 128. */
export function readU128(base: usize, n: usize, off: usize, bits: i32): u128 {
  const p = slot(base, n, off);
  if (!fitsUnsigned(p, bits)) invalid("uint");
  return new u128(loadBE(p, 24), loadBE(p, 16));
}

/** `int<bits>` for 64 < bits <= 128. */
export function readI128(base: usize, n: usize, off: usize, bits: i32): i128 {
  const p = slot(base, n, off);
  if (!fitsSigned(p, bits)) invalid("int");
  return new i128(loadBE(p, 24), <i64>loadBE(p, 16));
}

/** `uint<bits>` for 128 < bits <= 256. */
export function readU256(base: usize, n: usize, off: usize, bits: i32): u256 {
  const p = slot(base, n, off);
  if (bits < 256 && !fitsUnsigned(p, bits)) invalid("uint");
  return new u256(loadBE(p, 24), loadBE(p, 16), loadBE(p, 8), loadBE(p, 0));
}

/** `int<bits>` for 128 < bits <= 256. */
export function readI256(base: usize, n: usize, off: usize, bits: i32): i256 {
  const p = slot(base, n, off);
  if (bits < 256 && !fitsSigned(p, bits)) invalid("int");
  return new i256(<i64>loadBE(p, 24), <i64>loadBE(p, 16), <i64>loadBE(p, 8), <i64>loadBE(p, 0));
}

/** `bytes<size>` (1 <= size <= 32): left-aligned, the rest must be zero. */
export function readFixedBytes(base: usize, n: usize, off: usize, size: i32): Uint8Array {
  const p = slot(base, n, off);
  if (!allBytesAre(p + <usize>size, <usize>(32 - size), 0)) invalid("bytesN");
  const out = new Uint8Array(size);
  memory.copy(out.dataStart, p, <usize>size);
  return out;
}

// -- dynamic decoders -----------------------------------------------------------------------

/** Where the data of the dynamic value in slot `off` is; its length is left in `dynLength`. */
let dynLength: usize = 0;

function dynamic(base: usize, n: usize, off: usize, what: string): usize {
  const p = slot(base, n, off);
  if (!allBytesAre(p, 24, 0)) invalid(what + " offset");
  const at = loadBE(p, 24);
  if (at > <u64>n || at + 32 > <u64>n) tooShort();
  const q = base + <usize>at;
  if (!allBytesAre(q, 24, 0)) invalid(what + " length");
  const len = loadBE(q, 24);
  if (len > <u64>n - at - 32) tooShort();
  dynLength = <usize>len;
  return q + 32;
}

/** `bytes`, copied. */
export function readBytes(base: usize, n: usize, off: usize): Uint8Array {
  const p = dynamic(base, n, off, "bytes");
  const out = new Uint8Array(<i32>dynLength);
  memory.copy(out.dataStart, p, dynLength);
  return out;
}

/** `string`, decoded from UTF-8. */
export function readString(base: usize, n: usize, off: usize): string {
  const p = dynamic(base, n, off, "string");
  return String.UTF8.decodeUnsafe(p, dynLength);
}

// -- static encoders ------------------------------------------------------------------------

export function writeAddress(p: usize, off: usize, v: Address): void {
  const q = p + off;
  store<u64>(q, 0);
  store<u32>(q, 0, 8);
  memory.copy(q + 12, changetype<usize>(v), 20);
}

export function writeBool(p: usize, off: usize, v: bool): void {
  storeWordU64(p + off, v ? 1 : 0);
}

/** `uint<bits>` for bits <= 64. */
export function writeUint(p: usize, off: usize, v: u64, bits: i32): void {
  if (bits < 64 && (v >> <u64>bits) != 0) outOfRange();
  storeWordU64(p + off, v);
}

/** `int<bits>` for bits <= 64. */
export function writeInt(p: usize, off: usize, v: i64, bits: i32): void {
  if (bits < 64 && ((v << <i64>(64 - bits)) >> <i64>(64 - bits)) != v) outOfRange();
  const q = p + off;
  const sign: u64 = v < 0 ? u64.MAX_VALUE : 0;
  store<u64>(q, sign);
  store<u64>(q, sign, 8);
  store<u64>(q, sign, 16);
  storeBE(q, 24, <u64>v);
}

export function writeU128(p: usize, off: usize, v: u128, bits: i32): void {
  const q = p + off;
  store<u64>(q, 0);
  store<u64>(q, 0, 8);
  storeBE(q, 16, v.hi);
  storeBE(q, 24, v.lo);
  if (bits < 128 && !fitsUnsigned(q, bits)) outOfRange();
}

export function writeI128(p: usize, off: usize, v: i128, bits: i32): void {
  const q = p + off;
  const sign: u64 = v.hi < 0 ? u64.MAX_VALUE : 0;
  store<u64>(q, sign);
  store<u64>(q, sign, 8);
  storeBE(q, 16, <u64>v.hi);
  storeBE(q, 24, v.lo);
  if (bits < 128 && !fitsSigned(q, bits)) outOfRange();
}

export function writeU256(p: usize, off: usize, v: u256, bits: i32): void {
  const q = p + off;
  storeBE(q, 0, v.hi2);
  storeBE(q, 8, v.hi1);
  storeBE(q, 16, v.lo2);
  storeBE(q, 24, v.lo1);
  if (bits < 256 && !fitsUnsigned(q, bits)) outOfRange();
}

export function writeI256(p: usize, off: usize, v: i256, bits: i32): void {
  const q = p + off;
  storeBE(q, 0, <u64>v.hi2);
  storeBE(q, 8, <u64>v.hi1);
  storeBE(q, 16, <u64>v.lo2);
  storeBE(q, 24, <u64>v.lo1);
  if (bits < 256 && !fitsSigned(q, bits)) outOfRange();
}

/** `bytes<size>`: `v` must have exactly `size` bytes. */
export function writeFixedBytes(p: usize, off: usize, v: Uint8Array, size: i32): void {
  if (v.length != size) revert("ABI encoding: wrong length for a bytesN value");
  const q = p + off;
  memory.copy(q, v.dataStart, <usize>size);
  memory.fill(q + <usize>size, 0, <usize>(32 - size));
}

// -- dynamic encoders -----------------------------------------------------------------------

/** Bytes `bytes` takes in the tail. */
export function sizeBytes(v: Uint8Array): usize {
  return 32 + pad32(<usize>v.length);
}

/** Bytes `string` takes in the tail. */
export function sizeString(v: string): usize {
  return 32 + pad32(<usize>String.UTF8.byteLength(v));
}

function writeTail(p: usize, off: usize, tail: usize, data: usize, len: usize): usize {
  storeWordU64(p + off, <u64>tail);
  const q = p + tail;
  storeWordU64(q, <u64>len);
  memory.copy(q + 32, data, len);
  memory.fill(q + 32 + len, 0, pad32(len) - len);
  return tail + 32 + pad32(len);
}

/** Writes `bytes`: its offset in slot `off`, its data at `tail`; returns the new tail. */
export function writeBytes(p: usize, off: usize, tail: usize, v: Uint8Array): usize {
  return writeTail(p, off, tail, v.dataStart, <usize>v.length);
}

/** Writes `string` (UTF-8): its offset in slot `off`, its data at `tail`; returns the new tail. */
export function writeString(p: usize, off: usize, tail: usize, v: string): usize {
  storeWordU64(p + off, <u64>tail);
  const q = p + tail;
  const len = String.UTF8.encodeUnsafe(changetype<usize>(v), v.length, q + 32);
  storeWordU64(q, <u64>len);
  memory.fill(q + 32 + len, 0, pad32(len) - len);
  return tail + 32 + pad32(len);
}

// -- event topics ---------------------------------------------------------------------------

/** Topic of an indexed `bytes`: its Keccak-256. */
export function topicBytes(p: usize, off: usize, v: Uint8Array): void {
  env.keccak256(v.dataStart, <usize>v.length, p + off);
}

/** Topic of an indexed `string`: the Keccak-256 of its UTF-8. */
export function topicString(p: usize, off: usize, v: string): void {
  const n = <usize>String.UTF8.byteLength(v);
  const tmp = alloc(n > 0 ? n : 1);
  String.UTF8.encodeUnsafe(changetype<usize>(v), v.length, tmp);
  env.keccak256(tmp, n, p + off);
}

// -- convenience classes --------------------------------------------------------------------

/**
 * Reads an ABI-encoded tuple slot by slot: `new AbiDecoder(data)` then `address()`, `u256()`,
 * `string()`, ... in the order of the tuple's types.
 */
export class AbiDecoder {
  private off: usize = 0;

  constructor(public readonly base: usize, public readonly length: usize) {}

  static of(data: Uint8Array): AbiDecoder {
    return new AbiDecoder(data.dataStart, <usize>data.length);
  }

  private next(): usize {
    const off = this.off;
    this.off = off + 32;
    return off;
  }

  address(): Address { return readAddress(this.base, this.length, this.next()); }
  bool(): bool { return readBool(this.base, this.length, this.next()); }
  uint(bits: i32 = 64): u64 { return readUint(this.base, this.length, this.next(), bits); }
  int(bits: i32 = 64): i64 { return readInt(this.base, this.length, this.next(), bits); }
  u128(bits: i32 = 128): u128 { return readU128(this.base, this.length, this.next(), bits); }
  i128(bits: i32 = 128): i128 { return readI128(this.base, this.length, this.next(), bits); }
  u256(bits: i32 = 256): u256 { return readU256(this.base, this.length, this.next(), bits); }
  i256(bits: i32 = 256): i256 { return readI256(this.base, this.length, this.next(), bits); }
  fixedBytes(size: i32): Uint8Array { return readFixedBytes(this.base, this.length, this.next(), size); }
  bytes(): Uint8Array { return readBytes(this.base, this.length, this.next()); }
  string(): string { return readString(this.base, this.length, this.next()); }
}

/**
 * Builds an ABI-encoded tuple: `new AbiEncoder(headSlots, tailBytes)` (tailBytes: the sum of
 * sizeString/sizeBytes of the dynamic values), then one call per value in order, then
 * `finish()`.
 */
export class AbiEncoder {
  readonly ptr: usize;
  readonly size: usize;
  private off: usize = 0;
  private tail: usize;

  constructor(headSlots: i32, tailBytes: usize = 0) {
    this.tail = <usize>headSlots * 32;
    this.size = this.tail + tailBytes;
    this.ptr = alloc(this.size > 0 ? this.size : 1);
  }

  private next(): usize {
    const off = this.off;
    this.off = off + 32;
    return off;
  }

  address(v: Address): this { writeAddress(this.ptr, this.next(), v); return this; }
  bool(v: bool): this { writeBool(this.ptr, this.next(), v); return this; }
  uint(v: u64, bits: i32 = 64): this { writeUint(this.ptr, this.next(), v, bits); return this; }
  int(v: i64, bits: i32 = 64): this { writeInt(this.ptr, this.next(), v, bits); return this; }
  u128(v: u128, bits: i32 = 128): this { writeU128(this.ptr, this.next(), v, bits); return this; }
  i128(v: i128, bits: i32 = 128): this { writeI128(this.ptr, this.next(), v, bits); return this; }
  u256(v: u256, bits: i32 = 256): this { writeU256(this.ptr, this.next(), v, bits); return this; }
  i256(v: i256, bits: i32 = 256): this { writeI256(this.ptr, this.next(), v, bits); return this; }
  fixedBytes(v: Uint8Array, size: i32): this { writeFixedBytes(this.ptr, this.next(), v, size); return this; }
  bytes(v: Uint8Array): this { this.tail = writeBytes(this.ptr, this.next(), this.tail, v); return this; }
  string(v: string): this { this.tail = writeString(this.ptr, this.next(), this.tail, v); return this; }

  /** The encoded bytes (a copy). */
  finish(): Uint8Array {
    const out = new Uint8Array(<i32>this.size);
    memory.copy(out.dataStart, this.ptr, this.size);
    return out;
  }
}
