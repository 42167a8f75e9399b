// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// An ERC20 with EIP-2612 permits (EIP-712 signatures, checked with ecrecover) and an owner
/// who mints.
contract Token is ERC20, ERC20Permit, Ownable {
    constructor(uint256 supply) ERC20("Hardhat Token", "HHT") ERC20Permit("Hardhat Token") Ownable(msg.sender) {
        _mint(msg.sender, supply);
    }

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
