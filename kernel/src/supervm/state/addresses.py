"""Where new contracts live: Ethereum's ``CREATE`` and ``CREATE2`` address rules."""

from __future__ import annotations

import rlp

from supervm.state.keys import keccak256


def create_address(deployer: bytes, nonce: int) -> bytes:
    """The address ``CREATE`` gives a contract made by ``deployer`` at ``nonce``."""
    return keccak256(rlp.encode([deployer, nonce]))[12:]


def create2_address(deployer: bytes, salt: bytes, init_code: bytes) -> bytes:
    """The address ``CREATE2`` gives (EIP-1014): independent of the deployer's nonce."""
    return keccak256(b"\xff" + deployer + salt + keccak256(init_code))[12:]
