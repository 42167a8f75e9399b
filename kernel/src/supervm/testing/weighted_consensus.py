"""A consensus engine for tests of side chains and reorgs: the heavier branch wins.

A block weighs its difficulty, which :meth:`WeightedConsensus.prepare` sets to the first byte of
the extra data the test gives ``Chain.build_block`` (1 without), so a test decides which branch
wins by how it builds them. Ties go to the longer branch, then to the smaller hash. Register it
with :class:`WeightedConsensusPlugin` (``Kernel.from_plugins(extra=[...])``) and name it in the
genesis's ``supervm.consensus.engine``.
"""

from __future__ import annotations

import attrs

from supervm.chain.blocks import BlockHeader
from supervm.chain.consensus import (
    ConsensusEngine,
    ConsensusError,
    ConsensusSettings,
    HeaderReader,
    is_ancestor,
)
from supervm.plugins.hookspecs import hookimpl
from supervm.plugins.registry import ConsensusRegistry


class WeightedConsensus(ConsensusEngine):
    """The heavier branch wins, then the longer one, then the smaller hash.

    With the option ``final_depth`` a block that many blocks under the head (on its branch) is
    final; without it, only the genesis block is.
    """

    def __init__(self, settings: ConsensusSettings) -> None:
        depth = settings.options.get("final_depth")
        self.final_depth = None if depth is None else int(depth)

    def proposer(self, number: int, parent: BlockHeader, *, chain: HeaderReader) -> bytes:
        return bytes(20)

    def prepare(
        self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader
    ) -> BlockHeader:
        weight = header.extra_data[0] if header.extra_data else 1
        return attrs.evolve(header, difficulty=weight)

    def seal(self, header: BlockHeader, key: bytes) -> BlockHeader:
        return header

    def verify_seal(self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader) -> None:
        if header.difficulty < 1:
            raise ConsensusError(f"block {header.number}: weight {header.difficulty}")

    def fork_choice(self, a: BlockHeader, b: BlockHeader, *, chain: HeaderReader) -> BlockHeader:
        if a.hash == b.hash:
            return a
        wa, wb = branch_weights(a, b, chain)
        if wa != wb:
            return a if wa > wb else b
        if a.number != b.number:
            return a if a.number > b.number else b
        return b if b.hash < a.hash else a

    def is_final(self, header: BlockHeader, head: BlockHeader, *, chain: HeaderReader) -> bool:
        if header.number == 0:
            return True
        if self.final_depth is None or head.number - header.number < self.final_depth:
            return False
        return is_ancestor(header, head, chain)


def branch_weights(a: BlockHeader, b: BlockHeader, chain: HeaderReader) -> tuple[int, int]:
    """The summed difficulties of ``a``'s and ``b``'s branches above the block they share."""

    def up(header: BlockHeader) -> BlockHeader:
        parent = chain.header(header.parent_hash)
        assert parent is not None, "a branch reaches back to a block the chain knows"
        return parent

    wa = wb = 0
    while a.number > b.number:
        wa, a = wa + a.difficulty, up(a)
    while b.number > a.number:
        wb, b = wb + b.difficulty, up(b)
    while a.hash != b.hash:
        wa, wb, a, b = wa + a.difficulty, wb + b.difficulty, up(a), up(b)
    return wa, wb


@attrs.frozen
class WeightedConsensusPlugin:
    """An in-process plugin registering :class:`WeightedConsensus` as ``name``."""

    name: str = "weights"

    @hookimpl
    def supervm_register_consensus(self, registry: ConsensusRegistry) -> None:
        registry.add_consensus(self.name, WeightedConsensus)


__all__ = ["WeightedConsensus", "WeightedConsensusPlugin", "branch_weights"]
