// 20-byte Ethereum-style addresses.
import { alloc, hexOf, parseHexInto } from "./bytes";

/** Number of bytes in an address. */
export const ADDRESS_LENGTH: i32 = 20;

// The zero address, in static memory.
const ZERO: usize = memory.data(20);

/**
 * A 20-byte address. An `Address` is a pointer to its 20 bytes (an unmanaged class without
 * fields), so decoding one from call data or storage copies nothing. Compare with `==`.
 */
// @ts-ignore: decorator
@final @unmanaged
export class Address {
  /** The address whose 20 bytes are at `ptr` (not copied). */
  // @ts-ignore: decorator
  @inline
  static fromPtr(ptr: usize): Address {
    return changetype<Address>(ptr);
  }

  /** The zero address, `0x0000000000000000000000000000000000000000`. */
  static zero(): Address {
    return changetype<Address>(ZERO);
  }

  /** A copy of 20 bytes; throws unless `bytes` has exactly 20. */
  static fromBytes(bytes: Uint8Array): Address {
    if (bytes.length != ADDRESS_LENGTH) throw new Error("Address: expected 20 bytes");
    const p = alloc(20);
    memory.copy(p, bytes.dataStart, 20);
    return changetype<Address>(p);
  }

  /** Parses 40 hex digits, with or without `0x`; throws if malformed. */
  static fromHex(hex: string): Address {
    const p = alloc(20);
    if (!parseHexInto(hex, p, 20)) throw new Error("Address: expected 40 hex digits");
    return changetype<Address>(p);
  }

  /** Where the 20 bytes are. */
  // @ts-ignore: decorator
  @inline
  get ptr(): usize {
    return changetype<usize>(this);
  }

  /** Whether this is the zero address. */
  isZero(): bool {
    const p = changetype<usize>(this);
    return (load<u64>(p) | load<u64>(p, 8) | <u64>load<u32>(p, 16)) == 0;
  }

  /** Whether both addresses have the same bytes. */
  equals(other: Address): bool {
    const a = changetype<usize>(this);
    const b = changetype<usize>(other);
    if (a == b) return true;
    if (a == 0 || b == 0) return false;
    return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8) &&
      load<u32>(a, 16) == load<u32>(b, 16);
  }

  // @ts-ignore: decorator
  @operator("==")
  static eq(a: Address, b: Address): bool {
    return a.equals(b);
  }

  // @ts-ignore: decorator
  @operator("!=")
  static ne(a: Address, b: Address): bool {
    return !a.equals(b);
  }

  /** A copy of the address in its own memory. */
  clone(): Address {
    const p = alloc(20);
    memory.copy(p, changetype<usize>(this), 20);
    return changetype<Address>(p);
  }

  /** The 20 bytes, copied. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(20);
    memory.copy(out.dataStart, changetype<usize>(this), 20);
    return out;
  }

  /** `0x` and 40 lower-case hex digits. */
  toHex(): string {
    return hexOf(changetype<usize>(this), 20);
  }

  toString(): string {
    return this.toHex();
  }
}
