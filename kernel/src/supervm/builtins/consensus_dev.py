"""The ``dev`` consensus engine: one authority, no signatures, for tests and the command line.

Its rules, complete:

- **Proposer**: the single authority proposes every block: ``validators[0]`` if the settings
  name one, else development account 0 (the Hardhat/anvil account every tool knows). More than
  one validator is refused: that needs a real engine (proof of authority).
- **Prepare**: difficulty 0 and nonce zero (no work, no turns); ``mix_hash`` (``prevRandao``)
  is ``keccak256(parent.hash)``, deterministic but different every block; ``extra_data`` is
  left as given, at most 32 bytes as in Ethereum.
- **Seal**: none. The header is returned unchanged and the key is not used.
- **Verify**: the header must be a child of its parent and carry exactly what ``prepare``
  sets; there is no signature to check.
- **Fork choice**: the higher block wins; at equal heights, the smaller hash (as big-endian
  bytes), so every node picks the same head.
- **Finality**: a block is final as soon as it is the head or one of the head's ancestors:
  a single authority never reverts its own chain.
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
from supervm.plugins.hookspecs import hookimpl
from supervm.state.keys import keccak256

if TYPE_CHECKING:
    from supervm.chain.blocks import BlockHeader
    from supervm.plugins.registry import ConsensusRegistry

#: Development account 0 (``supervm.chain.dev_accounts.dev_account(0)``), written out so that
#: loading this plugin does not import eth-account.
DEV_AUTHORITY: Final = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
#: Ethereum's limit on ``extra_data``.
MAX_EXTRA_DATA: Final = 32
_ZERO_NONCE: Final = bytes(8)


def dev_mix_hash(parent: BlockHeader) -> bytes:
    """The ``mix_hash`` (``prevRandao``) of the dev chain's child of ``parent``."""
    return keccak256(parent.hash)


class DevConsensus(ConsensusEngine):
    """A single authority that needs no signature; see the module docstring for the rules."""

    def __init__(self, settings: ConsensusSettings | None = None) -> None:
        settings = settings or ConsensusSettings()
        if len(settings.validators) > 1:
            raise ConsensusError(
                f"dev consensus has a single authority, got {len(settings.validators)} "
                "validators: use a proof-of-authority engine for several"
            )
        self.settings = settings
        #: The address that proposes every block.
        self.authority = settings.validators[0] if settings.validators else DEV_AUTHORITY

    def proposer(self, number: int, parent: BlockHeader, *, chain: HeaderReader) -> bytes:
        """The authority, for every block."""
        return self.authority

    def prepare(
        self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader
    ) -> BlockHeader:
        """Difficulty 0, nonce zero, ``mix_hash = keccak256(parent.hash)``."""
        _check_extra_data(header)
        return attrs.evolve(header, difficulty=0, nonce=_ZERO_NONCE, mix_hash=dev_mix_hash(parent))

    def seal(self, header: BlockHeader, key: bytes) -> BlockHeader:
        """No seal: ``header`` itself."""
        return header

    def verify_seal(self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader) -> None:
        """Check that ``header`` is a child of ``parent`` with the fields ``prepare`` sets."""
        number = header.number
        if header.parent_hash != parent.hash or number != parent.number + 1:
            raise ConsensusError(
                f"block {number} (parent 0x{header.parent_hash.hex()}) is not a child of "
                f"block {parent.number} (0x{parent.hash.hex()})"
            )
        if header.difficulty != 0:
            raise ConsensusError(f"block {number}: difficulty {header.difficulty}, expected 0")
        if header.nonce != _ZERO_NONCE:
            raise ConsensusError(f"block {number}: nonce 0x{header.nonce.hex()}, expected zero")
        expected = dev_mix_hash(parent)
        if header.mix_hash != expected:
            raise ConsensusError(
                f"block {number}: mix hash 0x{header.mix_hash.hex()}, expected "
                f"0x{expected.hex()} (keccak256 of the parent's hash)"
            )
        _check_extra_data(header)

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


@hookimpl
def supervm_register_consensus(registry: ConsensusRegistry) -> None:
    """Register the single-authority development engine as ``dev``."""
    registry.add_consensus("dev", DevConsensus)
