"""The producer with several authorities: its out-of-turn wait is cut short by the in-turn
block arriving, it never seals twice within the recency window, and it takes side chains'
blocks and reorgs as new heads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from supervm import Kernel
from supervm.chain.blocks import Block
from supervm.chain.chain import Chain
from supervm.chain.dev_accounts import dev_account
from supervm.chain.genesis import parse_genesis
from supervm.chain.transactions import Transaction, UnsignedTransaction, sign_transaction
from supervm.node import CHAIN, CONFIG, EVENTS, POOL, NewBlock, NodeConfig
from supervm.node.chain_service import ChainService
from supervm.node.producer import BlockProducer
from supervm.plugins.registry import ServiceRegistry
from supervm.services.host import ServiceHost
from supervm.services.service import Stash
from supervm_consensus_poa import poa_genesis, signer_of
from supervm_mempool.service import PoolService
from supervm_storage_memory import MemoryStorage

A, B = dev_account(0), dev_account(1)
USER = dev_account(5)


class _Latest:
    """An out-of-turn wiggle at its longest, so the test's block surely arrives first."""

    def uniform(self, low: float, high: float) -> float:
        return high


def transfer(nonce: int) -> Transaction:
    unsigned = UnsignedTransaction(
        type=2, chain_id=31337, nonce=nonce, max_priority_fee_per_gas=10**9,
        max_fee_per_gas=10**11, gas=21_000, to=bytes([0x42]) * 20, value=1, data=b"",
    )  # fmt: skip
    return sign_transaction(unsigned, USER.private_key)


@pytest.fixture
def genesis_file(tmp_path: Path) -> Path:
    path = tmp_path / "genesis.json"
    # Block n is validators[n % 2]'s turn: block 1 is B's, block 2 is A's.
    path.write_text(json.dumps(poa_genesis([A.address, B.address], accounts=[USER.address])))
    return path


def test_out_of_turn_seal_gives_way_and_recency_holds(tmp_path: Path, genesis_file: Path) -> None:
    kernel = Kernel.from_plugins()
    key = tmp_path / "a.key"
    key.write_text("0x" + A.private_key.hex())
    raw = genesis_file.read_bytes()
    builder = Chain.initialise(kernel, MemoryStorage(), parse_genesis(json.loads(raw)), raw)

    async def main() -> None:
        stash = Stash()
        stash[CONFIG] = NodeConfig(data_dir=tmp_path / "node", genesis=genesis_file,
                                   validator_key=key)  # fmt: skip
        services = ServiceRegistry()
        producer = BlockProducer()
        services.add_service("chain", ChainService())
        services.add_service("producer", producer, after=["chain"])
        services.add_service("txpool", PoolService(), after=["chain"])
        host = ServiceHost(kernel, services, stash=stash)
        await host.start()
        node, events = stash[CHAIN], stash[EVENTS]
        node.chain.consensus._rng = _Latest()  # type: ignore[attr-defined]
        heads: list[NewBlock] = []
        events.on_block(heads.append)

        async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
            deadline = time.monotonic() + timeout
            while not condition():
                assert time.monotonic() < deadline, "timed out"
                await asyncio.sleep(0.01)

        async def receive(block: Block) -> None:
            """What the network does with a block from a peer."""
            outcome = await node.write(lambda chain: chain.insert_block(block))
            assert outcome.head_change is not None
            for item in outcome.head_change.added:
                events.publish_block(NewBlock(item.block, item.receipts))

        try:
            stash[POOL].submit(transfer(0))
            await asyncio.sleep(0.3)  # A waits out of turn (wiggle of 1 s)
            assert node.head.number == 0
            b1 = builder.build_block([], timestamp=int(time.time()), key=B.private_key).block
            await receive(b1)
            # A gave up block 1 and seals block 2, its turn, with the pending transfer.
            await until(lambda: node.head.number == 2)
            assert producer.stale_slots >= 1
            assert node.store.block_by_number(1) == b1
            a2 = node.store.block_by_number(2)
            assert a2 is not None and signer_of(a2.header) == A.address
            assert len(a2.transactions) == 1
            # Block 3 is B's turn, and A sealed block 2: A must wait, whatever is pending.
            stash[POOL].submit(transfer(1))
            await asyncio.sleep(1.5)
            assert node.head.number == 2
            builder.import_block(a2)
            b3 = builder.build_block([], timestamp=int(time.time()), key=B.private_key).block
            await receive(b3)
            await until(lambda: node.head.number == 4)
            a4 = node.store.block_by_number(4)
            assert a4 is not None and signer_of(a4.header) == A.address
            assert [tx.nonce for tx in a4.transactions] == [1]
        finally:
            await host.stop()

    try:
        asyncio.run(main())
    finally:
        builder.close()
        kernel.close()
