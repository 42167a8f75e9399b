// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A contract a factory deploys with CREATE2; it records who made it and with what.
contract Child {
    address public immutable parent;
    uint256 public immutable value;
    uint256 public immutable bornAt;

    constructor(uint256 value_) payable {
        parent = msg.sender;
        value = value_;
        bornAt = block.number;
    }
}

/// CREATE and CREATE2, as factories (Uniswap's, Safe's) use them.
contract Factory {
    event Created(address indexed child, bytes32 salt, uint256 value);

    function create(uint256 value) external returns (address child) {
        child = address(new Child(value));
        emit Created(child, bytes32(0), value);
    }

    function create2(bytes32 salt, uint256 value) external payable returns (address child) {
        child = address(new Child{salt: salt, value: msg.value}(value));
        emit Created(child, salt, value);
    }

    function predict(bytes32 salt, uint256 value) external view returns (address) {
        bytes32 initHash = keccak256(abi.encodePacked(type(Child).creationCode, abi.encode(value)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initHash)))));
    }

    function chain() external view returns (uint256 id, uint256 number, address coinbase, uint256 baseFee) {
        return (block.chainid, block.number, block.coinbase, block.basefee);
    }
}
