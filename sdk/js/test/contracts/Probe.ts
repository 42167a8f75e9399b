// A contract for the @supervm/js tests: one function per way to revert (Error(string), Panic,
// a custom error), an event with an indexed and a plain argument, and a constructor argument.
import { Address, Context, Indexed, StorageValue, addChecked, u256 } from "@supervm/sdk";

@event declare function Stored(by: Indexed<Address>, value: u256): void;

@error declare function TooLarge(value: u256, limit: u256): void;

@contract
class Probe {
  limit: StorageValue<u256> = new StorageValue<u256>("limit");
  value: StorageValue<u256> = new StorageValue<u256>("value");

  @deploy
  init(limit: u256): void {
    this.limit.set(limit);
  }

  @view
  current(): u256 {
    return this.value.get();
  }

  /** Stores `value` unless it is over the limit (the custom error TooLarge). */
  store(value: u256): u256 {
    const limit = this.limit.get();
    if (value > limit) {
      TooLarge(value, limit);
      return u256.Zero;
    }
    this.value.set(value);
    Stored(Context.caller, value);
    return value;
  }

  /** Always reverts with Error(reason). */
  @view
  fail(reason: string): bool {
    throw new Error(reason);
  }

  /** Adds with overflow checking: 2^256-1 + 1 reverts with Panic(0x11). */
  @view
  add(a: u256, b: u256): u256 {
    return addChecked(a, b);
  }
}
