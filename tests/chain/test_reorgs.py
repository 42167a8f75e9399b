"""Side chains and reorgs: blocks on any known parent, fork choice, finality, one-batch reorgs.

Hypothesis draws a random tree of blocks (each on a random earlier block, with value transfers
and calls of the WASM contract in ``pipeline_contract.wat`` that set, increment, add to and
delete storage), built by one chain with ``build_block(parent=...)``; other chains import the
same blocks in random orders (parents missing at first are refused with ``UnknownParentError``
and retried). Every importer must end at the head the engine's fork choice picks among all the
blocks, with a flat state equal to its state root's state and to the flat state of a chain that
imported the winning branch alone, and with the canonical and transaction indexes of that
branch.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from supervm import Kernel
from supervm.chain.blocks import Block, BlockHeader, encode_block
from supervm.chain.chain import (
    BlockImportError,
    Chain,
    FinalityError,
    UnknownParentError,
)
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.forks import HEAD, KNOWN, SIDE, common_ancestor
from supervm.chain.genesis import dev_genesis, parse_genesis
from supervm.chain.transactions import Transaction, UnsignedTransaction, sign_transaction
from supervm.execution.wasm_binary import with_end_marker
from supervm.state.historical import HistoricalStorage
from supervm.state.keys import CHAIN_DATA_START, CODE_PREFIX
from supervm.state.world import WorldState
from supervm.testing.weighted_consensus import WeightedConsensusPlugin
from supervm_storage_memory import MemoryStorage

ACCOUNTS = dev_accounts(3)
CONTRACT = bytes.fromhex("c0" * 19 + "01")
RECIPIENTS = [a.address for a in ACCOUNTS] + [bytes.fromhex("0d" * 20), bytes.fromhex("0e" * 20)]
MODULE = bytes(wasmtime.wat2wasm(Path(__file__).with_name("pipeline_contract.wat").read_text()))


def _genesis() -> bytes:
    data: dict[str, Any] = dev_genesis(tuple(a.address for a in ACCOUNTS))
    data["alloc"]["0x" + CONTRACT.hex()] = {"code": "0x" + with_end_marker(MODULE).hex()}
    data["supervm"]["consensus"] = {"engine": "weights"}
    return json.dumps(data).encode()


GENESIS = _genesis()


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(extra=[("weights", WeightedConsensusPlugin("weights"))]) as kernel:
        yield kernel


def open_chain(kernel: Kernel, genesis: bytes = GENESIS) -> Chain:
    return Chain.initialise(kernel, MemoryStorage(), parse_genesis(json.loads(genesis)), genesis)


def genesis_with(**options: str) -> bytes:
    data = json.loads(GENESIS)
    data["supervm"]["consensus"].update(options)
    return json.dumps(data).encode()


# -- drawing a tree ----------------------------------------------------------------------------

# An action: (sender index, kind, argument): kind 0 transfers, 1-4 call the contract's ops.
action = st.tuples(st.integers(0, len(ACCOUNTS) - 1), st.integers(0, 4), st.integers(0, 7))
node = st.tuples(
    st.integers(0, 3),  # the parent: how many blocks back from the last one built
    st.integers(1, 3),  # the weight
    st.lists(action, max_size=3),
)


def _state_at(chain: Chain, header: BlockHeader) -> WorldState:
    if header.hash == chain.head.hash:
        return chain.state()
    return WorldState(HistoricalStorage(chain.open_root(header.state_root), chain.storage))


def _transactions(
    chain: Chain, parent: BlockHeader, actions: list[tuple[int, int, int]]
) -> list[Transaction]:
    state = _state_at(chain, parent)
    nonces = {a.address: state.nonce(a.address) for a in ACCOUNTS}
    txs = []
    for sender_index, kind, argument in actions:
        account = ACCOUNTS[sender_index]
        if kind == 0:
            to, value, data, gas = RECIPIENTS[argument % len(RECIPIENTS)], argument + 1, b"", 21_000
        else:
            data = bytes([kind, argument]) + (argument * 3 + 1).to_bytes(8, "little")
            to, value, gas = CONTRACT, 0, 200_000
        unsigned = UnsignedTransaction(
            type=2, chain_id=chain.chain_id, nonce=nonces[account.address],
            max_priority_fee_per_gas=10**9, max_fee_per_gas=10 * 10**9, gas=gas, to=to,
            value=value, data=data,
        )  # fmt: skip
        nonces[account.address] += 1
        txs.append(sign_transaction(unsigned, account.private_key))
    return txs


def build_tree(kernel: Kernel, nodes: list[Any], genesis: bytes = GENESIS) -> list[Block]:
    """The blocks of the drawn tree, each built on the state of its parent."""
    builder = open_chain(kernel, genesis)
    headers = [builder.head]
    blocks: list[Block] = []
    for index, (parent_pick, weight, actions) in enumerate(nodes):
        parent = headers[max(0, index - parent_pick)]
        built = builder.build_block(
            _transactions(builder, parent, actions), timestamp=parent.timestamp + 1,
            extra_data=bytes([weight]) + index.to_bytes(2, "big"), parent=parent,
        )  # fmt: skip
        assert not built.executed.rejected
        headers.append(built.block.header)
        blocks.append(built.block)
    return blocks


def import_all(chain: Chain, blocks: list[Block], order: random.Random) -> int:
    """Import ``blocks`` in a random order, putting back those whose parent is missing;
    return how many reorgs the chain made."""
    waiting = list(blocks)
    order.shuffle(waiting)
    reorgs = 0
    while waiting:
        block = waiting.pop(0)
        try:
            outcome = chain.insert_block(encode_block(block) if order.random() < 0.5 else block)
        except UnknownParentError as exc:
            assert exc.parent_hash == block.header.parent_hash
            assert not chain.store.has_block(exc.parent_hash)
            waiting.append(block)
            continue
        change = outcome.head_change
        if change is not None and change.is_reorg:
            reorgs += 1
            assert [c.block.header for c in change.added][-1] == chain.head
    return reorgs


def flat_state(chain: Chain) -> dict[bytes, bytes]:
    """The flat world state, code aside (a side chain's code stays, stored by hash)."""
    return {k: v for k, v in chain.storage.iterate(b"", CHAIN_DATA_START) if k[:1] != CODE_PREFIX}


def canonical_branch(chain: Chain) -> list[BlockHeader]:
    headers = [chain.head]
    while headers[-1].number:
        parent = chain.store.header(headers[-1].parent_hash)
        assert parent is not None
        headers.append(parent)
    return headers[::-1]


def check_consistent(kernel: Kernel, chain: Chain, blocks: list[Block]) -> None:
    """The chain's indexes and flat state are those of its head's branch alone."""
    branch = canonical_branch(chain)
    by_hash = {b.header.hash: b for b in blocks}
    alone = open_chain(kernel, chain.store.config() or GENESIS)
    for header in branch[1:]:
        alone.import_block(by_hash[header.hash])
    assert alone.head == chain.head
    assert flat_state(chain) == flat_state(alone)
    # ... and to the state its state root's tries hold.
    tries = HistoricalStorage(chain.open_root(chain.head.state_root), chain.storage)
    assert all(tries.get(k) == v for k, v in flat_state(chain).items())
    for header in branch:
        assert chain.store.canonical_hash(header.number) == header.hash
    assert chain.store.canonical_hash(chain.head.number + 1) is None
    on_branch = {h.hash for h in branch}
    canonical_txs = {}
    for header in branch[1:]:
        for index, tx in enumerate(by_hash[header.hash].transactions):
            canonical_txs[tx.hash] = (header.hash, index)
    for block in blocks:
        assert chain.store.has_block(block.header.hash)
        for tx in block.transactions:
            assert chain.store.transaction_location(tx.hash) == canonical_txs.get(tx.hash)
        if block.header.hash not in on_branch:
            assert chain.store.receipts(block.header.hash) is not None  # side blocks kept
    assert chain.state_root().root_hash() == chain.head.state_root


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    nodes=st.lists(node, min_size=1, max_size=12),
    seeds=st.lists(st.integers(), min_size=2, max_size=2),
)
def test_any_import_order_ends_at_the_fork_choice_head(
    kernel: Kernel, nodes: list[Any], seeds: list[int]
) -> None:
    blocks = build_tree(kernel, nodes)
    reference = open_chain(kernel)
    engine = reference.consensus
    importers = [open_chain(kernel) for _ in seeds]
    reorgs = [
        import_all(chain, blocks, random.Random(seed))
        for chain, seed in zip(importers, seeds, strict=True)
    ]
    event(f"{min(sum(reorgs), 5)}+ reorgs")
    event(f"{sum(len(b.transactions) for b in blocks) // 5 * 5}+ transactions")
    event(f"head at height {importers[0].head.number} of {max(b.header.number for b in blocks)}")
    best = reference.head
    store = importers[0].store
    for block in blocks:
        best = engine.fork_choice(best, block.header, chain=store)
    for chain in importers:
        assert chain.head == best
        check_consistent(kernel, chain, blocks)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(nodes=st.lists(node, min_size=1, max_size=12), seed=st.integers())
def test_a_final_block_is_never_reverted(kernel: Kernel, nodes: list[Any], seed: int) -> None:
    genesis = genesis_with(final_depth="2")
    blocks = build_tree(kernel, nodes, genesis=_permissive(genesis))
    chain = open_chain(kernel, genesis)
    final: set[bytes] = set()
    order = random.Random(seed)
    waiting = list(blocks)
    order.shuffle(waiting)
    refused: set[bytes] = set()
    while waiting:
        block = waiting.pop(0)
        head = chain.head
        try:
            outcome = chain.insert_block(block)
        except UnknownParentError:
            if block.header.parent_hash in refused:
                refused.add(block.header.hash)  # its parent will never be there
            else:
                waiting.append(block)
            continue
        except FinalityError as exc:
            refused.add(block.header.hash)
            assert "a final block is never reverted" in str(exc)
            parent = chain.store.header(block.header.parent_hash)
            assert parent is not None
            ancestor = common_ancestor(chain.store, head, parent)
            first = chain.store.header_by_number(ancestor.number + 1)
            assert first is not None and chain.consensus.is_final(first, head, chain=chain.store)
            assert chain.head == head and not chain.store.has_block(block.header.hash)
            continue
        assert outcome.status in (HEAD, SIDE)
        for header in canonical_branch(chain):
            if chain.consensus.is_final(header, chain.head, chain=chain.store):
                final.add(header.hash)
        for block_hash in final:
            stored = chain.store.header(block_hash)
            assert stored is not None and chain.store.canonical_hash(stored.number) == block_hash
    accepted = [b for b in blocks if chain.store.has_block(b.header.hash)]
    check_consistent(kernel, chain, accepted)


def _permissive(genesis: bytes) -> bytes:
    """The same genesis block with no finality, for the builder of a tree (the genesis hash
    does not commit to the engine's options)."""
    data = json.loads(genesis)
    data["supervm"]["consensus"].pop("final_depth")
    return json.dumps(data).encode()


# -- examples ----------------------------------------------------------------------------------


def test_a_heavier_side_chain_takes_over_in_one_batch(
    kernel: Kernel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="supervm.chain")
    builder = open_chain(kernel)
    a1 = builder.build_block(
        _transactions(builder, builder.head, [(0, 0, 3), (1, 1, 2)]), timestamp=1
    ).block
    a2 = builder.build_block(_transactions(builder, a1.header, [(0, 2, 2)]), timestamp=2).block
    genesis = builder.store.header_by_number(0)
    assert genesis is not None
    b1 = builder.build_block(
        _transactions(builder, genesis, [(0, 0, 4)]), timestamp=1, parent=genesis,
        extra_data=b"\x01b1",
    )  # fmt: skip
    assert b1.outcome is not None and b1.outcome.status == SIDE
    assert builder.head == a2.header
    b2 = builder.build_block(
        _transactions(builder, b1.block.header, [(2, 3, 1)]), timestamp=2,
        parent=b1.block.header, extra_data=b"\x03",
    )  # fmt: skip
    outcome = b2.outcome
    assert outcome is not None and outcome.status == HEAD
    # Operators see the switch in the log, as geth's "Chain reorg detected".
    reorgs = [r for r in caplog.records if getattr(r, "fields", {}).get("event") == "reorg"]
    assert len(reorgs) == 1
    assert reorgs[0].fields["dropped"] == 2 and reorgs[0].fields["added"] == 2  # type: ignore[attr-defined]
    assert "chain reorg at block 0: dropped 2 blocks" in reorgs[0].getMessage()
    change = outcome.head_change
    assert change is not None and change.is_reorg
    assert change.ancestor == genesis
    assert [c.block.header for c in change.removed] == [a1.header, a2.header]
    assert [c.block.header for c in change.added] == [b1.block.header, b2.block.header]
    assert [len(c.receipts) for c in change.removed] == [2, 1]
    # a1's transactions are no longer in the chain; b1's are.
    for tx in a1.transactions:
        assert builder.store.transaction_location(tx.hash) is None
    assert builder.store.transaction_location(b1.block.transactions[0].hash) == (
        b1.block.header.hash,
        0,
    )
    check_consistent(kernel, builder, [a1, a2, b1.block, b2.block])
    # Importing a known block changes nothing.
    assert builder.insert_block(a1).status == KNOWN


def test_an_unknown_parent_is_its_own_error(kernel: Kernel) -> None:
    builder = open_chain(kernel)
    first = builder.build_block([], timestamp=1).block
    second = builder.build_block([], timestamp=2).block
    chain = open_chain(kernel)
    with pytest.raises(UnknownParentError, match=r"its parent 0x[0-9a-f]{64} is unknown") as err:
        chain.import_block(encode_block(second))
    assert isinstance(err.value, BlockImportError)
    assert err.value.parent_hash == first.header.hash and err.value.number == 2
    assert not chain.store.has_block(second.header.hash)
    chain.import_block(first)
    chain.import_block(second)
    assert chain.head == second.header


def test_a_branch_below_a_final_block_is_refused(kernel: Kernel) -> None:
    genesis = genesis_with(final_depth="1")
    builder = open_chain(kernel, _permissive(genesis))
    g = builder.head
    a1 = builder.build_block([], timestamp=1).block
    a2 = builder.build_block([], timestamp=2).block
    b1 = builder.build_block([], timestamp=1, parent=g, extra_data=b"\x03").block
    chain = open_chain(kernel, genesis)
    chain.import_block(a1)
    chain.import_block(a2)  # a1 is final now
    with pytest.raises(FinalityError, match=r"block 1: its branch forks .* below final block 1"):
        chain.import_block(b1)
    assert chain.head == a2.header and not chain.store.has_block(b1.header.hash)
    with pytest.raises(FinalityError):
        chain.build_block([], timestamp=5, parent=chain.store.header_by_number(0))


def test_the_dev_engine_refuses_every_fork(kernel: Kernel) -> None:
    raw = json.dumps(dev_genesis(tuple(a.address for a in ACCOUNTS))).encode()
    builder = open_chain(kernel, raw)
    g = builder.head
    builder.build_block([], timestamp=1)
    with pytest.raises(FinalityError):
        builder.build_block([], timestamp=1, parent=g, coinbase=b"\x01" * 20)
