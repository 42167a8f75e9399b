import { StorageValue } from "@supervm/sdk";

@contract
class Broken {
  value: StorageValue<u64> = new StorageValue<u64>("value");

  @view
  get(): u64 {
    return this.valu.get();
  }
}
