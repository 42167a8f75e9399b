// SPDX-License-Identifier: MIT
// OpenZeppelin's token standards, as an application would use them: thin contracts over
// @openzeppelin/contracts 5, compiled by SuperVM's Solidity plugin (solc-js, evmVersion cancun).
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC721Holder} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Holder.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

/// A fixed-supply ERC20 that its owner may also mint.
contract AppToken is ERC20, Ownable {
    constructor(string memory name_, string memory symbol_, uint256 supply)
        ERC20(name_, symbol_)
        Ownable(msg.sender)
    {
        _mint(msg.sender, supply);
    }

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}

/// An ERC721 with ERC2981 royalties: its owner mints; every token pays `royaltyBps` to
/// `royaltyReceiver` on a sale through a marketplace that honours ERC2981.
contract AppNFT is ERC721, ERC2981, Ownable {
    uint256 public nextId = 1;

    constructor(string memory name_, string memory symbol_, address royaltyReceiver, uint96 royaltyBps)
        ERC721(name_, symbol_)
        Ownable(msg.sender)
    {
        _setDefaultRoyalty(royaltyReceiver, royaltyBps);
    }

    /// Mints the next id to `to` (with the receiver check, as `_safeMint` does).
    function mint(address to) external onlyOwner returns (uint256 id) {
        id = nextId++;
        _safeMint(to, id);
    }

    function _baseURI() internal pure override returns (string memory) {
        return "ipfs://app-nft/";
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721, ERC2981) returns (bool) {
        return super.supportsInterface(interfaceId);
    }
}

/// An ERC1155 with a URI template; its owner mints single ids and batches.
contract AppMulti is ERC1155, Ownable {
    constructor() ERC1155("ipfs://app-multi/{id}.json") Ownable(msg.sender) {}

    function mint(address to, uint256 id, uint256 amount, bytes calldata data) external onlyOwner {
        _mint(to, id, amount, data);
    }

    function mintBatch(address to, uint256[] calldata ids, uint256[] calldata amounts, bytes calldata data)
        external
        onlyOwner
    {
        _mintBatch(to, ids, amounts, data);
    }
}

/// A contract that accepts ERC721 and ERC1155 safe transfers (OpenZeppelin's holders) and can send
/// them on, so the tests can move tokens out of a contract account too.
contract TokenVault is ERC721Holder, ERC1155Holder {
    event Received721(address indexed operator, address indexed from, uint256 tokenId, bytes data);

    function onERC721Received(address operator, address from, uint256 tokenId, bytes memory data)
        public
        override
        returns (bytes4)
    {
        emit Received721(operator, from, tokenId, data);
        return super.onERC721Received(operator, from, tokenId, data);
    }

    function sendNFT(ERC721 nft, address to, uint256 tokenId) external {
        nft.safeTransferFrom(address(this), to, tokenId);
    }

    function sendMulti(ERC1155 multi, address to, uint256 id, uint256 amount) external {
        multi.safeTransferFrom(address(this), to, id, amount, "");
    }
}

/// A contract with no receiver hooks: a safe transfer to it must revert.
contract NotAReceiver {
    function ping() external pure returns (uint256) {
        return 1;
    }
}
