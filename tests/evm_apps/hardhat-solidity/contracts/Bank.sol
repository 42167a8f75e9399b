// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// Holds ETH per depositor; each withdraws its own, the owner may sweep fees. Reverts in the three
/// ways Solidity has: a custom error, a require reason string and a panic.
contract Bank is Ownable {
    mapping(address => uint256) public balanceOf;
    uint256 public feeBps;
    uint256 public fees;

    event Deposited(address indexed who, uint256 amount);
    event Withdrawn(address indexed who, uint256 amount, uint256 fee);

    error InsufficientBalance(address who, uint256 balance, uint256 wanted);

    constructor(uint256 feeBps_) Ownable(msg.sender) {
        require(feeBps_ <= 1000, "Bank: fee too high");
        feeBps = feeBps_;
    }

    receive() external payable {
        deposit();
    }

    function deposit() public payable {
        require(msg.value > 0, "Bank: nothing deposited");
        balanceOf[msg.sender] += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    function withdraw(uint256 amount) external {
        uint256 balance = balanceOf[msg.sender];
        if (amount > balance) revert InsufficientBalance(msg.sender, balance, amount);
        balanceOf[msg.sender] = balance - amount;
        uint256 fee = amount * feeBps / 10_000;
        fees += fee;
        (bool ok,) = msg.sender.call{value: amount - fee}("");
        require(ok, "Bank: transfer failed");
        emit Withdrawn(msg.sender, amount - fee, fee);
    }

    function sweep(address payable to) external onlyOwner {
        uint256 amount = fees;
        fees = 0;
        (bool ok,) = to.call{value: amount}("");
        require(ok, "Bank: transfer failed");
    }

    /// The share of `amount` per `parts`: panics (0x12) when `parts` is zero.
    function share(uint256 amount, uint256 parts) external pure returns (uint256) {
        return amount / parts;
    }
}
