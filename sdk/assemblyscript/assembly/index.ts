// @supervm/sdk: write SuperVM contracts in AssemblyScript.
//
//   import { u256 } from "as-bignum/assembly";
//   import { Address, Context, StorageMap, Indexed } from "@supervm/sdk";
//
//   @event declare function Transfer(from: Indexed<Address>, to: Indexed<Address>, value: u256): void;
//
//   @contract
//   class Token {
//     balances: StorageMap<Address, u256> = new StorageMap<Address, u256>("balances");
//     @view balanceOf(account: Address): u256 { return this.balances.get(account); }
//     ...
//   }
//
// The SDK's transform (transform/index.js) turns the @contract class into the `call` export
// (dispatch by 4-byte selector, ABI decoding and encoding), its @deploy method into the `deploy`
// export, @event/@error declarations into functions, and writes the contract's JSON ABI.
export { env } from "./env";
export { Address, ADDRESS_LENGTH } from "./address";
export { Context, setReturn } from "./context";
export { Storage, StorageValue, StorageMap, StorageMap2 } from "./storage";
export {
  AbiDecoder, AbiEncoder,
  readAddress, readBool, readUint, readInt, readU128, readI128, readU256, readI256,
  readFixedBytes, readBytes, readString,
  writeAddress, writeBool, writeUint, writeInt, writeU128, writeI128, writeU256, writeI256,
  writeFixedBytes, sizeBytes, sizeString, writeBytes, writeString,
  fitsSigned, fitsUnsigned,
} from "./abi";
export { revert, require, revertWith, revertRaw, panic, PanicCode, ERROR_SELECTOR, PANIC_SELECTOR } from "./revert";
export { emitLog, emitEvent, eventsLen, readEvent } from "./log";
export {
  CallResult, ALL_GAS, callContract, staticCall, delegateCall, returnData, callValue,
  selectorOf, encodeCall, callFunction, staticCallFunction,
} from "./call";
export {
  keccak256, keccak256String, sha256, verifyEd25519, verifySecp256k1, recoverSecp256k1,
  ethAddress, ecrecover,
} from "./crypto";
export { addChecked, subChecked, mulChecked } from "./math";
export { bytesFrom, utf8, hexOf } from "./bytes";
export * from "./types";
export { u128, i128, u256 } from "as-bignum/assembly";
export { i256 } from "as-bignum/assembly/integer/i256";
