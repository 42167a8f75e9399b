// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ERC20Token
/// @notice A fixed-supply ERC-20 token on OpenZeppelin's ERC20: the deployer receives the whole
///         supply. Its ABI is exactly OpenZeppelin's ERC20 ABI (functions, the Transfer and
///         Approval events and the ERC-6093 custom errors) plus this constructor.
contract ERC20Token is ERC20 {
    /// @param name_ The token's name, e.g. "Super Token".
    /// @param symbol_ Its ticker, e.g. "SUP".
    /// @param initialSupply Units (with 18 decimals) minted to the deployer.
    constructor(string memory name_, string memory symbol_, uint256 initialSupply)
        ERC20(name_, symbol_)
    {
        _mint(msg.sender, initialSupply);
    }
}
