// SPDX-License-Identifier: MIT
// A fixed-price NFT marketplace: a seller lists a token it owns (after approving the
// marketplace), a buyer pays the price in ETH, the marketplace pays the ERC2981 royalty to its
// receiver and the rest to the seller, and moves the token to the buyer with safeTransferFrom.
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

contract Marketplace is ReentrancyGuard {
    struct Listing {
        address seller;
        uint256 price;
    }

    mapping(address nft => mapping(uint256 tokenId => Listing)) public listings;

    event Listed(address indexed nft, uint256 indexed tokenId, address indexed seller, uint256 price);
    event Cancelled(address indexed nft, uint256 indexed tokenId);
    event Sold(
        address indexed nft,
        uint256 indexed tokenId,
        address indexed buyer,
        address seller,
        uint256 price,
        address royaltyReceiver,
        uint256 royalty
    );

    error NotTokenOwner(address caller, address owner);
    error NotApproved(address nft, uint256 tokenId);
    error NotListed(address nft, uint256 tokenId);
    error WrongPrice(uint256 price, uint256 paid);
    error ZeroPrice();
    error PaymentFailed(address to, uint256 amount);

    function list(IERC721 nft, uint256 tokenId, uint256 price) external {
        if (price == 0) revert ZeroPrice();
        address owner = nft.ownerOf(tokenId);
        if (owner != msg.sender) revert NotTokenOwner(msg.sender, owner);
        if (nft.getApproved(tokenId) != address(this) && !nft.isApprovedForAll(owner, address(this))) {
            revert NotApproved(address(nft), tokenId);
        }
        listings[address(nft)][tokenId] = Listing(msg.sender, price);
        emit Listed(address(nft), tokenId, msg.sender, price);
    }

    function cancel(IERC721 nft, uint256 tokenId) external {
        Listing memory listing = listings[address(nft)][tokenId];
        if (listing.seller == address(0)) revert NotListed(address(nft), tokenId);
        if (listing.seller != msg.sender) revert NotTokenOwner(msg.sender, listing.seller);
        delete listings[address(nft)][tokenId];
        emit Cancelled(address(nft), tokenId);
    }

    function buy(IERC721 nft, uint256 tokenId) external payable nonReentrant {
        Listing memory listing = listings[address(nft)][tokenId];
        if (listing.seller == address(0)) revert NotListed(address(nft), tokenId);
        if (msg.value != listing.price) revert WrongPrice(listing.price, msg.value);
        delete listings[address(nft)][tokenId];

        (address receiver, uint256 royalty) = royaltyOf(address(nft), tokenId, listing.price);
        nft.safeTransferFrom(listing.seller, msg.sender, tokenId);
        if (royalty > 0) _pay(receiver, royalty);
        _pay(listing.seller, listing.price - royalty);
        emit Sold(address(nft), tokenId, msg.sender, listing.seller, listing.price, receiver, royalty);
    }

    /// The ERC2981 royalty on a sale at `price`, capped at the price; none if `nft` has no ERC2981.
    function royaltyOf(address nft, uint256 tokenId, uint256 price) public view returns (address, uint256) {
        try IERC165(nft).supportsInterface(type(IERC2981).interfaceId) returns (bool yes) {
            if (!yes) return (address(0), 0);
        } catch {
            return (address(0), 0);
        }
        (address receiver, uint256 amount) = IERC2981(nft).royaltyInfo(tokenId, price);
        return (receiver, amount > price ? price : amount);
    }

    function _pay(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert PaymentFailed(to, amount);
    }
}
