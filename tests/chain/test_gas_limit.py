"""The builder moves the gas limit toward a target no faster than importers accept."""

from __future__ import annotations

import itertools
import json

import pytest
from supervm import Kernel
from supervm.builtins import consensus_dev, scheduler_serial
from supervm.chain.blocks import encode_block
from supervm.chain.chain import BlockImportError, Chain
from supervm.chain.genesis import dev_genesis, parse_genesis
from supervm_storage_memory import MemoryStorage


def _chain(kernel: Kernel) -> Chain:
    genesis = dev_genesis(())
    return Chain.initialise(
        kernel, MemoryStorage(), parse_genesis(genesis), json.dumps(genesis).encode()
    )


@pytest.mark.parametrize("target", [10**12, 1, 30_000_000])
def test_each_block_moves_under_a_1024th_and_imports(target: int) -> None:
    kernel = Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial), ("consensus_dev", consensus_dev)],
    )
    builder, follower = _chain(kernel), _chain(kernel)
    limits = [builder.head.gas_limit]
    for t in range(1, 4):
        built = builder.build_block([], timestamp=t, gas_limit=target)
        follower.import_block(encode_block(built.block))
        limits.append(built.block.header.gas_limit)
    for parent, child in itertools.pairwise(limits):
        assert abs(child - parent) < parent // 1024
        assert (child - parent) * (target - parent) >= 0  # toward the target
    assert follower.head.hash == builder.head.hash


def test_a_limit_that_jumps_is_refused_on_import() -> None:
    import attrs

    kernel = Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial), ("consensus_dev", consensus_dev)],
    )
    builder, follower = _chain(kernel), _chain(kernel)
    built = builder.build_block([], timestamp=1)
    jumped = attrs.evolve(built.block.header, gas_limit=built.block.header.gas_limit * 2)
    with pytest.raises(BlockImportError, match=r"gas limit .* moves too far"):
        follower.import_block(attrs.evolve(built.block, header=jumped))
