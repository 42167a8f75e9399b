"""The block pipeline calls the chain hooks: before, around and after every block."""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence
from typing import Any

from supervm import Kernel, hookimpl
from supervm.builtins import consensus_dev, scheduler_serial
from supervm.chain.blocks import Block, BlockHeader, encode_block
from supervm.chain.chain import Chain
from supervm.chain.genesis import dev_genesis, parse_genesis
from supervm.chain.pipeline import ExecutedBlock
from supervm.chain.receipts import Receipt
from supervm.chain.transactions import Transaction
from supervm.state.world import WorldState
from supervm_storage_memory import MemoryStorage

COUNTER = bytes.fromhex("0b" * 20)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    @hookimpl
    def supervm_before_block(self, header: BlockHeader, state: WorldState) -> None:
        self.events.append(("before", header.number))
        state.credit(COUNTER, 1)  # part of the block's state transition

    @hookimpl(wrapper=True)
    def supervm_execute_block(
        self, header: BlockHeader, transactions: Sequence[Transaction]
    ) -> Generator[None, ExecutedBlock, ExecutedBlock]:
        executed = yield
        self.events.append(("executed", len(executed.receipts)))
        return executed

    @hookimpl
    def supervm_after_block(self, block: Block, receipts: Sequence[Receipt]) -> None:
        self.events.append(("after", block.header.number))


def _kernel(*extra: tuple[str, Any]) -> Kernel:
    return Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial), ("consensus_dev", consensus_dev), *extra],
    )


def _chain(kernel: Kernel) -> Chain:
    genesis = dev_genesis(())
    storage = MemoryStorage()
    return Chain.initialise(kernel, storage, parse_genesis(genesis), json.dumps(genesis).encode())


def test_hooks_run_around_built_and_imported_blocks() -> None:
    recorder = Recorder()
    kernel = _kernel(("recorder", recorder))
    chain = _chain(kernel)
    built = chain.build_block([], timestamp=5)
    assert recorder.events == [("before", 1), ("executed", 0), ("after", 1)]
    # The before-block write is in the block's state and root.
    assert chain.state().balance(COUNTER) == 1

    follower = _chain(kernel)
    recorder.events.clear()
    follower.import_block(encode_block(built.block))
    assert recorder.events == [("before", 1), ("executed", 0), ("after", 1)]
    assert follower.head.state_root == chain.head.state_root


def test_a_node_without_the_hook_plugin_computes_another_root() -> None:
    with_hook = _chain(_kernel(("recorder", Recorder())))
    without = _chain(_kernel())
    a = with_hook.build_block([], timestamp=5)
    b = without.build_block([], timestamp=5)
    assert a.block.header.state_root != b.block.header.state_root
