"""The ``ethereum`` consensus engine: Ethereum's post-merge header rules, without a beacon chain.

Since the Merge, an execution block's header carries no proof of work and the beacon chain
decides which blocks are canonical. What remains for the execution layer to check, and what
this engine checks of a child of ``parent`` (the chain core checks the parent hash, number,
timestamp, gas limit bounds, base fee, gas used and the roots):

- difficulty 0 and a zero nonce (EIP-3675);
- ``extra_data`` at most 32 bytes;
- the Shanghai and Cancun fields present (withdrawals root, blob gas used, excess blob gas,
  parent beacon block root), with the excess blob gas EIP-4844 derives from the parent
  and blob gas used a whole number of blobs, at most six.

``mix_hash`` (``prevRandao``) is the beacon chain's randomness: any value is valid. There is no
seal. Fork choice is the beacon chain's; without one, the higher block wins, and at equal
heights the smaller hash. A block is final when it is the head or an ancestor of it. The engine
exists to run Ethereum's own test chains (``supervm evm blocktest``) through the chain core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs
from supervm.chain.consensus import (
    ConsensusEngine,
    ConsensusError,
    ConsensusSettings,
    HeaderReader,
    is_ancestor,
)

if TYPE_CHECKING:
    from supervm.chain.blocks import BlockHeader

MAX_EXTRA_DATA: Final = 32
GAS_PER_BLOB: Final = 131_072
MAX_BLOB_GAS_PER_BLOCK: Final = 6 * GAS_PER_BLOB
TARGET_BLOB_GAS_PER_BLOCK: Final = 3 * GAS_PER_BLOB
_ZERO_NONCE: Final = bytes(8)


def excess_blob_gas(parent: BlockHeader) -> int:
    """EIP-4844: the excess blob gas of a child of ``parent``."""
    total = (parent.excess_blob_gas or 0) + (parent.blob_gas_used or 0)
    return max(0, total - TARGET_BLOB_GAS_PER_BLOCK)


class EthereumConsensus(ConsensusEngine):
    """Ethereum's post-merge execution-layer header rules (see the module docstring)."""

    def __init__(self, settings: ConsensusSettings | None = None) -> None:
        self.settings = settings or ConsensusSettings()

    def proposer(self, number: int, parent: BlockHeader, *, chain: HeaderReader) -> bytes:
        """Anyone: the beacon chain chooses proposers; the first validator, if named."""
        return self.settings.validators[0] if self.settings.validators else bytes(20)

    def prepare(
        self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader
    ) -> BlockHeader:
        """Difficulty 0, nonce zero, the excess blob gas the parent implies."""
        _check_extra_data(header)
        return attrs.evolve(
            header, difficulty=0, nonce=_ZERO_NONCE, excess_blob_gas=excess_blob_gas(parent)
        )

    def seal(self, header: BlockHeader, key: bytes) -> BlockHeader:
        """No seal."""
        return header

    def verify_seal(self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader) -> None:
        """Check the rules in the module docstring."""
        number = header.number
        if header.difficulty != 0:
            raise ConsensusError(f"block {number}: difficulty {header.difficulty}, expected 0")
        if header.nonce != _ZERO_NONCE:
            raise ConsensusError(f"block {number}: nonce 0x{header.nonce.hex()}, expected zero")
        _check_extra_data(header)
        missing = [
            name
            for name in (
                "base_fee_per_gas", "withdrawals_root", "blob_gas_used", "excess_blob_gas",
                "parent_beacon_block_root",
            )
            if getattr(header, name) is None
        ]  # fmt: skip
        if missing:
            raise ConsensusError(
                f"block {number}: a Cancun header needs {missing[0].replace('_', ' ')}"
            )
        assert header.blob_gas_used is not None
        if header.blob_gas_used % GAS_PER_BLOB or header.blob_gas_used > MAX_BLOB_GAS_PER_BLOCK:
            raise ConsensusError(
                f"block {number}: blob gas used {header.blob_gas_used} is not a number of "
                f"blobs ({GAS_PER_BLOB} each) up to {MAX_BLOB_GAS_PER_BLOCK}"
            )
        expected = excess_blob_gas(parent)
        if header.excess_blob_gas != expected:
            raise ConsensusError(
                f"block {number}: excess blob gas {header.excess_blob_gas}, expected {expected}"
            )

    def fork_choice(self, a: BlockHeader, b: BlockHeader, *, chain: HeaderReader) -> BlockHeader:
        """The higher block; at equal heights the smaller hash; ``a`` if they are the same."""
        if a.number != b.number:
            return a if a.number > b.number else b
        return b if b.hash < a.hash else a

    def is_final(self, header: BlockHeader, head: BlockHeader, *, chain: HeaderReader) -> bool:
        """Whether ``header`` is ``head`` or one of its ancestors."""
        return is_ancestor(header, head, chain)


def _check_extra_data(header: BlockHeader) -> None:
    if len(header.extra_data) > MAX_EXTRA_DATA:
        raise ConsensusError(
            f"block {header.number}: extra data is {len(header.extra_data)} bytes, "
            f"at most {MAX_EXTRA_DATA}"
        )
