// A fixed-price NFT marketplace in AssemblyScript whose tokens are Solidity contracts: it calls
// an ERC721 (ownerOf, getApproved, isApprovedForAll, safeTransferFrom), its ERC2981 royalty
// (supportsInterface, royaltyInfo) and an ERC20 it is paid in (transferFrom), all EVM code,
// through SuperVM's cross-VM calls (WASM -> EVM). The flow is Marketplace.sol's: a seller lists
// a token it owns after approving the marketplace; a buyer who approved the marketplace for the
// payment token buys it; the royalty goes to its receiver, the rest to the seller, the token to
// the buyer. Payment is in an ERC20 rather than ETH: AssemblyScript contracts take no value yet
// (the SDK refuses @payable).
import {
  AbiDecoder,
  AbiEncoder,
  Address,
  Context,
  Indexed,
  StorageMap2,
  StorageValue,
  callFunction,
  staticCallFunction,
  u256,
} from "@supervm/sdk";

@event declare function Listed(nft: Indexed<Address>, tokenId: Indexed<u256>, seller: Indexed<Address>, price: u256): void;
@event declare function Cancelled(nft: Indexed<Address>, tokenId: Indexed<u256>): void;
@event declare function Sold(nft: Indexed<Address>, tokenId: Indexed<u256>, buyer: Indexed<Address>, seller: Address, price: u256, royaltyReceiver: Address, royalty: u256): void;

@error declare function NotTokenOwner(caller: Address, owner: Address): void;
@error declare function NotApproved(nft: Address, tokenId: u256): void;
@error declare function NotListed(nft: Address, tokenId: u256): void;
@error declare function ZeroPrice(): void;
@error declare function PaymentFailed(from: Address, to: Address, amount: u256): void;

/** ERC-165 id of ERC2981 (royaltyInfo), as the bytes4 supportsInterface takes. */
function erc2981Id(): Uint8Array {
  const id = new Uint8Array(4);
  id[0] = 0x2a;
  id[1] = 0x55;
  id[2] = 0x20;
  id[3] = 0x5a;
  return id;
}

@contract
class Marketplace {
  private token: StorageValue<Address> = new StorageValue<Address>("paymentToken");
  private sellers: StorageMap2<Address, u256, Address> = new StorageMap2<Address, u256, Address>("seller");
  private prices: StorageMap2<Address, u256, u256> = new StorageMap2<Address, u256, u256>("price");

  /** The constructor: the ERC20 buyers pay in. */
  @deploy
  init(paymentToken: Address): void {
    this.token.set(paymentToken);
  }

  @view
  paymentToken(): Address {
    return this.token.get();
  }

  @view
  sellerOf(nft: Address, tokenId: u256): Address {
    return this.sellers.get(nft, tokenId);
  }

  @view
  priceOf(nft: Address, tokenId: u256): u256 {
    return this.prices.get(nft, tokenId);
  }

  list(nft: Address, tokenId: u256, price: u256): void {
    if (price.isZero()) ZeroPrice();
    const seller = Context.caller;
    const owner = ownerOf(nft, tokenId);
    if (!owner.equals(seller)) NotTokenOwner(seller, owner);
    const approved = staticCallFunction(nft, "getApproved(uint256)", new AbiEncoder(1).u256(tokenId))
      .unwrap();
    const forAll = staticCallFunction(
      nft, "isApprovedForAll(address,address)", new AbiEncoder(2).address(owner).address(Context.self),
    ).unwrap();
    const self = Context.self;
    if (!decodeAddress(approved).equals(self) && !decodeBool(forAll)) NotApproved(nft, tokenId);
    this.sellers.set(nft, tokenId, seller);
    this.prices.set(nft, tokenId, price);
    Listed(nft, tokenId, seller, price);
  }

  cancel(nft: Address, tokenId: u256): void {
    const seller = this.sellers.get(nft, tokenId);
    if (seller.isZero()) NotListed(nft, tokenId);
    if (!seller.equals(Context.caller)) NotTokenOwner(Context.caller, seller);
    this.sellers.delete(nft, tokenId);
    this.prices.delete(nft, tokenId);
    Cancelled(nft, tokenId);
  }

  buy(nft: Address, tokenId: u256): void {
    const seller = this.sellers.get(nft, tokenId);
    if (seller.isZero()) NotListed(nft, tokenId);
    const price = this.prices.get(nft, tokenId);
    const buyer = Context.caller;
    // Effects before interactions: the listing is gone before any other contract runs.
    this.sellers.delete(nft, tokenId);
    this.prices.delete(nft, tokenId);

    let receiver = Address.zero();
    let royalty = u256.Zero;
    const erc165 = staticCallFunction(
      nft, "supportsInterface(bytes4)", new AbiEncoder(1).fixedBytes(erc2981Id(), 4),
    );
    if (erc165.success && erc165.data.length >= 32 && decodeBool(erc165.data)) {
      const info = staticCallFunction(
        nft, "royaltyInfo(uint256,uint256)", new AbiEncoder(2).u256(tokenId).u256(price),
      ).unwrap();
      const decoder = AbiDecoder.of(info);
      receiver = decoder.address();
      royalty = decoder.u256();
      if (royalty > price) royalty = price;
    }
    const token = this.token.get();
    if (!royalty.isZero()) pay(token, buyer, receiver, royalty);
    pay(token, buyer, seller, price - royalty);
    callFunction(
      nft, "safeTransferFrom(address,address,uint256)",
      new AbiEncoder(3).address(seller).address(buyer).u256(tokenId),
    ).unwrap();
    Sold(nft, tokenId, buyer, seller, price, receiver, royalty);
  }
}

function ownerOf(nft: Address, tokenId: u256): Address {
  // A nonexistent token makes the ERC721 revert: its error is passed on unchanged.
  return decodeAddress(staticCallFunction(nft, "ownerOf(uint256)", new AbiEncoder(1).u256(tokenId)).unwrap());
}

/** `token.transferFrom(from, to, amount)`, which must succeed and return true. */
function pay(token: Address, from: Address, to: Address, amount: u256): void {
  const result = callFunction(
    token, "transferFrom(address,address,uint256)",
    new AbiEncoder(3).address(from).address(to).u256(amount),
  ).unwrap();
  if (result.length > 0 && !decodeBool(result)) PaymentFailed(from, to, amount);
}

function decodeAddress(data: Uint8Array): Address {
  return AbiDecoder.of(data).address();
}

function decodeBool(data: Uint8Array): bool {
  return AbiDecoder.of(data).bool();
}
