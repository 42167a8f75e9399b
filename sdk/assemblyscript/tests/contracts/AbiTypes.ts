// The SDK's test contract for the ABI codec: every supported type echoed back, events with every
// kind of indexed and non-indexed parameter, custom errors and reverts. The Python tests
// (plugins/compiler_assemblyscript/tests/test_sdk_abi.py) check it against eth-abi.
import {
  Address, Bytes, Bytes1, Bytes4, Bytes32, Context, Indexed,
  u128, i128, u256, i256,
  uint24, int24, uint72, int72, uint160, int200, uint256, int256,
  panic, PanicCode, require, revert, addChecked, subChecked, mulChecked,
  AbiDecoder, AbiEncoder, setReturn, sizeString,
} from "@supervm/sdk";
import { Mixed, Opaque } from "./events";

@event declare function Everything(
  who: Indexed<Address>, tag: Indexed<string>, blob: Indexed<Bytes>,
  amount: u256, note: string, delta: i64, raw: Bytes,
): void;

@error declare function Insufficient(account: Address, needed: u256): void;
@error declare function Empty(): void;

@contract
class AbiTypes {
  @pure echoAddress(v: Address): Address { return v; }
  @pure echoBool(v: bool): bool { return v; }
  @pure echoU8(v: u8): u8 { return v; }
  @pure echoU16(v: u16): u16 { return v; }
  @pure echoU32(v: u32): u32 { return v; }
  @pure echoU64(v: u64): u64 { return v; }
  @pure echoI8(v: i8): i8 { return v; }
  @pure echoI16(v: i16): i16 { return v; }
  @pure echoI32(v: i32): i32 { return v; }
  @pure echoI64(v: i64): i64 { return v; }
  @pure echoU128(v: u128): u128 { return v; }
  @pure echoI128(v: i128): i128 { return v; }
  @pure echoU256(v: u256): u256 { return v; }
  @pure echoI256(v: i256): i256 { return v; }
  @pure echoUint24(v: uint24): uint24 { return v; }
  @pure echoInt24(v: int24): int24 { return v; }
  @pure echoUint72(v: uint72): uint72 { return v; }
  @pure echoInt72(v: int72): int72 { return v; }
  @pure echoUint160(v: uint160): uint160 { return v; }
  @pure echoInt200(v: int200): int200 { return v; }
  @pure echoUint256(v: uint256): uint256 { return v; }
  @pure echoInt256(v: int256): int256 { return v; }
  @pure echoString(v: string): string { return v; }
  @pure echoBytes(v: Bytes): Bytes { return v; }
  @pure echoBytes1(v: Bytes1): Bytes1 { return v; }
  @pure echoBytes4(v: Bytes4): Bytes4 { return v; }
  @pure echoBytes32(v: Bytes32): Bytes32 { return v; }

  /** Several arguments, static and dynamic: returns them re-encoded by hand, as bytes. */
  @pure
  mixed(a: Address, s: string, b: Bytes, n: u256, f: bool, x: int24): Bytes {
    const enc = new AbiEncoder(6, sizeString(s) + 32 + ((<usize>b.length + 31) & ~31));
    return enc.address(a).string(s).bytes(b).u256(n).bool(f).int(x, 24).finish();
  }

  /** Decodes (uint64, string, address) from `data` with AbiDecoder; returns the string. */
  @pure
  decodeTuple(data: Bytes): string {
    const d = AbiDecoder.of(data);
    const n = d.uint(64);
    const s = d.string();
    const a = d.address();
    require(n == 7, "n");
    require(a == Context.caller, "a");
    return s;
  }

  /** Writes return data by hand: the method's own return value is replaced. */
  rawReturn(v: Bytes): void {
    setReturn(v);
  }

  emitEverything(who: Address, tag: string, blob: Bytes, amount: u256, note: string, delta: i64, raw: Bytes): void {
    Everything(who, tag, blob, amount, note, delta, raw);
  }

  emitFromLibrary(x: u32, y: Bytes32): void {
    Mixed(x, y, Context.caller);
    Opaque();
  }

  /** Fails in one of several ways. */
  fail(kind: u8): u256 {
    if (kind == 0) revert("plain reason");
    if (kind == 1) { Insufficient(Context.caller, u256.One); return u256.Zero; }
    if (kind == 2) assert(false);
    if (kind == 3) panic(PanicCode.DIVISION_BY_ZERO);
    if (kind == 4) throw new Error("thrown reason");
    if (kind == 5) { Empty(); return u256.Zero; }
    if (kind == 6) require(false, "required reason");
    if (kind == 7) revert("");
    return u256.One;
  }

  @pure add(a: u256, b: u256): u256 { return addChecked(a, b); }
  @pure sub(a: u256, b: u256): u256 { return subChecked(a, b); }
  @pure mul(a: u256, b: u256): u256 { return mulChecked(a, b); }

  /** Returns a value that does not fit its declared ABI type: encoding reverts. */
  @pure tooWide(): uint24 { return 1 << 24; }
}
