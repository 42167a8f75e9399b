// A token vault in AssemblyScript that calls another contract: it holds ERC20 deposits (any
// ERC20, WebAssembly like examples/contracts/erc20-as or Solidity), pulling them in with the
// token's transferFrom and paying them out with its transfer, as a Solidity vault would.
//
// A token that reverts reverts the vault's call with the token's own reason (CallResult.unwrap
// passes the revert data on, as Solidity bubbles it up), so a user sees
// "ERC20: insufficient allowance", not a vault error.
import {
  AbiEncoder,
  Address,
  Context,
  Indexed,
  StorageMap2,
  callFunction,
  require,
  staticCallFunction,
  u256,
} from "@supervm/sdk";

@event declare function Deposited(token: Indexed<Address>, account: Indexed<Address>, amount: u256): void;
@event declare function Withdrawn(token: Indexed<Address>, account: Indexed<Address>, amount: u256): void;

@contract
class Vault {
  private deposits: StorageMap2<Address, Address, u256> =
    new StorageMap2<Address, Address, u256>("deposits");

  /** Takes `amount` of `token` from the caller, who approved the vault for it first. */
  deposit(token: Address, amount: u256): void {
    const account = Context.caller;
    const result = callFunction(
      token,
      "transferFrom(address,address,uint256)",
      new AbiEncoder(3).address(account).address(Context.self).u256(amount),
    );
    const returned = result.unwrap();
    // Tokens that return nothing (USDT-style) succeed by not reverting; the others say true.
    require(returned.length == 0 || result.decoder().bool(), "Vault: transferFrom returned false");
    this.deposits.set(token, account, this.deposits.get(token, account) + amount);
    Deposited(token, account, amount);
  }

  /** Pays `amount` of the caller's deposit of `token` back to the caller. */
  withdraw(token: Address, amount: u256): void {
    const account = Context.caller;
    const held = this.deposits.get(token, account);
    require(held >= amount, "Vault: amount exceeds the deposit");
    // The deposit goes down before the token is called (checks, effects, interactions): a
    // token that called back into withdraw would find it already spent.
    this.deposits.set(token, account, held - amount);
    const result = callFunction(
      token, "transfer(address,uint256)", new AbiEncoder(2).address(account).u256(amount),
    );
    const returned = result.unwrap();
    require(returned.length == 0 || result.decoder().bool(), "Vault: transfer returned false");
    Withdrawn(token, account, amount);
  }

  /** What `account` has deposited of `token`. */
  @view
  depositOf(token: Address, account: Address): u256 {
    return this.deposits.get(token, account);
  }

  /** What the vault holds of `token`, asked of the token itself with a static call. */
  @view
  holdings(token: Address): u256 {
    const result = staticCallFunction(
      token, "balanceOf(address)", new AbiEncoder(1).address(Context.self),
    );
    result.unwrap();
    return result.decoder().u256();
  }
}
