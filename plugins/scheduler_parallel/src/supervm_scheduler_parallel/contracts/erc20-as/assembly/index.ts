// An ERC20 token in AssemblyScript, with exactly the ABI of OpenZeppelin's ERC20: name, symbol,
// decimals (18), totalSupply, balanceOf, transfer, allowance, approve, transferFrom, and the
// Transfer and Approval events. Failures revert with OpenZeppelin 4's Error(string) reasons.
//
// Written for speed: a transfer makes 8 host calls: input_len, read_input, caller,
// storage_read and storage_set for the sender, storage_add for the recipient (a credit that
// reads nothing, so transfers to one account do not conflict), emit_log and set_return.
import {
  Address,
  Context,
  Indexed,
  StorageMap,
  StorageMap2,
  StorageValue,
  u256,
} from "@supervm/sdk";

@event declare function Transfer(from: Indexed<Address>, to: Indexed<Address>, value: u256): void;
@event declare function Approval(owner: Indexed<Address>, spender: Indexed<Address>, value: u256): void;

@contract
class ERC20 {
  private nameValue: StorageValue<string> = new StorageValue<string>("name");
  private symbolValue: StorageValue<string> = new StorageValue<string>("symbol");
  private supply: StorageValue<u256> = new StorageValue<u256>("totalSupply");
  private balances: StorageMap<Address, u256> = new StorageMap<Address, u256>("balances");
  private allowances: StorageMap2<Address, Address, u256> =
    new StorageMap2<Address, Address, u256>("allowances");

  /** The constructor: names the token and mints `initialSupply` to the deployer. */
  @deploy
  init(name: string, symbol: string, initialSupply: u256): void {
    this.nameValue.set(name);
    this.symbolValue.set(symbol);
    this.mint(Context.caller, initialSupply);
  }

  @view
  name(): string {
    return this.nameValue.get();
  }

  @view
  symbol(): string {
    return this.symbolValue.get();
  }

  @view
  decimals(): u8 {
    return 18;
  }

  @view
  totalSupply(): u256 {
    return this.supply.get();
  }

  @view
  balanceOf(account: Address): u256 {
    return this.balances.get(account);
  }

  transfer(to: Address, value: u256): bool {
    this.move(Context.caller, to, value);
    return true;
  }

  @view
  allowance(owner: Address, spender: Address): u256 {
    return this.allowances.get(owner, spender);
  }

  approve(spender: Address, value: u256): bool {
    const owner = Context.caller;
    if (spender.isZero()) throw new Error("ERC20: approve to the zero address");
    this.allowances.set(owner, spender, value);
    Approval(owner, spender, value);
    return true;
  }

  transferFrom(from: Address, to: Address, value: u256): bool {
    const spender = Context.caller;
    const allowed = this.allowances.get(from, spender);
    // An allowance of 2^256 - 1 is infinite, as in OpenZeppelin.
    if (allowed != u256.Max) {
      if (allowed < value) throw new Error("ERC20: insufficient allowance");
      this.allowances.set(from, spender, allowed - value);
    }
    this.move(from, to, value);
    return true;
  }

  private move(from: Address, to: Address, value: u256): void {
    if (from.isZero()) throw new Error("ERC20: transfer from the zero address");
    if (to.isZero()) throw new Error("ERC20: transfer to the zero address");
    const fromBalance = this.balances.get(from);
    if (fromBalance < value) throw new Error("ERC20: transfer amount exceeds balance");
    this.balances.set(from, fromBalance - value);
    // Cannot overflow: the sum of all balances is the total supply. A credit that does not
    // read the balance (storage_add): transfers to one account do not conflict.
    this.balances.add(to, value);
    Transfer(from, to, value);
  }

  private mint(account: Address, value: u256): void {
    if (account.isZero()) throw new Error("ERC20: mint to the zero address");
    const supply = this.supply.get();
    const next = supply + value;
    if (next < supply) throw new Error("ERC20: total supply overflows");
    this.supply.set(next);
    this.balances.set(account, this.balances.get(account) + value);
    Transfer(Address.zero(), account, value);
  }
}
