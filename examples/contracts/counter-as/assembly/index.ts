// A counter: the smallest useful SuperVM contract in AssemblyScript.
import { Address, Context, Indexed, StorageValue } from "@supervm/sdk";

/** Emitted on every change: who changed the counter, and its new value. */
@event declare function CountChanged(by: Indexed<Address>, count: u64): void;

@contract
class Counter {
  count: StorageValue<u64> = new StorageValue<u64>("count");

  /** Runs once at deployment: the initial count. */
  @deploy
  init(start: u64): void {
    this.count.set(start);
  }

  /** The current count. */
  @view
  get(): u64 {
    return this.count.get();
  }

  /** Adds one; returns the new count. */
  increment(): u64 {
    return this.add(1);
  }

  /** Adds `amount`; returns the new count. Reverts on overflow. */
  add(amount: u64): u64 {
    const now = this.count.get();
    const next = now + amount;
    if (next < now) throw new Error("Counter: overflow");
    this.count.set(next);
    CountChanged(Context.caller, next);
    return next;
  }

  /** Sets the count back to zero. */
  reset(): void {
    this.count.set(0);
    CountChanged(Context.caller, 0);
  }
}
