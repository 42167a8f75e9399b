// The SDK's test contract for context, storage, crypto and raw host functions.
import {
  Address, Bytes, Bytes32, Context, env, u128, i128, u256, i256,
  Storage, StorageMap, StorageMap2, StorageValue,
  emitEvent, eventsLen, readEvent, keccak256, keccak256String, sha256, verifyEd25519,
  verifySecp256k1, recoverSecp256k1, ethAddress, ecrecover, utf8, bytesFrom,
} from "@supervm/sdk";

@contract
class ContextProbe {
  flag: StorageValue<bool> = new StorageValue<bool>("flag");
  small: StorageValue<i64> = new StorageValue<i64>("small");
  big: StorageValue<u128> = new StorageValue<u128>("big");
  signed: StorageValue<i256> = new StorageValue<i256>("signed");
  signed128: StorageValue<i128> = new StorageValue<i128>("signed128");
  who: StorageValue<Address> = new StorageValue<Address>("who");
  blob: StorageValue<Uint8Array> = new StorageValue<Uint8Array>("blob");
  text: StorageValue<string> = new StorageValue<string>("text");
  byName: StorageMap<string, u64> = new StorageMap<string, u64>("byName");
  byNumber: StorageMap<u32, string> = new StorageMap<u32, string>("byNumber");
  nested: StorageMap2<string, Address, u256> = new StorageMap2<string, Address, u256>("nested");
  unicode: StorageValue<u8> = new StorageValue<u8>("zähler");

  @view caller(): Address { return Context.caller; }
  @view self(): Address { return Context.self; }
  @view blockNumber(): u64 { return Context.blockNumber; }
  @view timestamp(): u64 { return Context.timestamp; }
  @view gasLeft(): u64 { return Context.gasLeft; }
  @view input(): Bytes { return Context.input; }

  store(flag: bool, small: i64, big: u128, signed: i256, signed128: i128, who: Address, blob: Bytes, text: string): void {
    this.flag.set(flag);
    this.small.set(small);
    this.big.set(big);
    this.signed.set(signed);
    this.signed128.set(signed128);
    this.who.set(who);
    this.blob.set(blob);
    this.text.set(text);
    this.unicode.set(7);
  }

  @view flagValue(): bool { return this.flag.get(); }
  @view smallValue(): i64 { return this.small.get(); }
  @view bigValue(): u128 { return this.big.get(); }
  @view signedValue(): i256 { return this.signed.get(); }
  @view signed128Value(): i128 { return this.signed128.get(); }
  @view whoValue(): Address { return this.who.get(); }
  @view blobValue(): Bytes { return this.blob.get(); }
  @view textValue(): string { return this.text.get(); }
  @view textOr(fallback: string): string { return this.text.getOr(fallback); }
  @view has(): bool { return this.text.has(); }
  clear(): void { this.text.delete(); this.blob.delete(); }

  setByName(k: string, v: u64): void { this.byName.set(k, v); }
  @view getByName(k: string): u64 { return this.byName.get(k); }
  @view hasName(k: string): bool { return this.byName.has(k); }
  deleteName(k: string): void { this.byName.delete(k); }
  setByNumber(k: u32, v: string): void { this.byNumber.set(k, v); }
  @view getByNumber(k: u32): string { return this.byNumber.getOr(k, "none"); }
  setNested(k: string, a: Address, v: u256): void { this.nested.set(k, a, v); }
  @view getNested(k: string, a: Address): u256 { return this.nested.get(k, a); }

  /** Raw storage: key bytes -> value bytes (empty if absent). */
  rawSet(key: Bytes, value: Bytes): void { Storage.set(key, value); }
  @view rawGet(key: Bytes): Bytes { const v = Storage.get(key); return v === null ? new Uint8Array(0) : v; }

  @pure keccak(data: Bytes): Bytes32 { return keccak256(data); }
  @pure keccakText(text: string): Bytes32 { return keccak256String(text); }
  @pure sha(data: Bytes): Bytes32 { return sha256(data); }
  @pure utf8Of(text: string): Bytes { return utf8(text); }
  @pure ed25519(message: Bytes, signature: Bytes, key: Bytes): bool { return verifyEd25519(message, signature, key); }
  @pure secp256k1(hash: Bytes32, signature: Bytes, key: Bytes): bool { return verifySecp256k1(hash, signature, key); }
  @pure recover(hash: Bytes32, signature: Bytes): Bytes {
    const key = recoverSecp256k1(hash, signature);
    return key === null ? new Uint8Array(0) : key;
  }
  @pure addressOf(key: Bytes): Address { return ethAddress(key); }
  @pure signer(hash: Bytes32, signature: Bytes): Address { return ecrecover(hash, signature); }

  /** Emits opaque events and reads them back: returns the second one. */
  opaque(a: Bytes, b: Bytes): Bytes {
    emitEvent(a);
    emitEvent(b);
    if (eventsLen() != 2) throw new Error("events_len");
    const second = readEvent(1);
    if (readEvent(2) !== null) throw new Error("read_event past the end");
    return second === null ? new Uint8Array(0) : second;
  }

  /** The raw host function, through `env`. */
  @view rawBlockNumber(): i64 { return env.block_number(); }

  @pure hexOf(a: Address): string { return a.toHex(); }
  @pure fromHex(s: string): Address { return Address.fromHex(s); }
  @pure isZero(a: Address): bool { return a.isZero(); }
  @pure same(a: Address, b: Address): bool { return a == b; }
  @pure fromBytes(b: Bytes): Address { return Address.fromBytes(b); }
  @pure copyBytes(b: Bytes): Bytes { return bytesFrom(b.dataStart, <usize>b.length); }
}
