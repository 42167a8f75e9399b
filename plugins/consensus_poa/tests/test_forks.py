"""Several authorities, competing blocks and reorgs, through the chain core's side chains.

Hypothesis draws trees of sealed blocks: each on one of the last few blocks built, sealed by an
authority the recency rule allows on that branch (in turn or not). Chains import them in random
orders; each must never revert a block it saw final, must end at a head that fork choice
prefers to every block it holds, and must hold the flat state of that head's branch alone.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest
import supervm_consensus_poa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from supervm import Kernel
from supervm.builtins import scheduler_serial
from supervm.chain.blocks import Block, BlockHeader, encode_block
from supervm.chain.chain import Chain, FinalityError, UnknownParentError
from supervm.chain.dev_accounts import dev_account
from supervm.chain.genesis import parse_genesis
from supervm.chain.transactions import UnsignedTransaction, sign_transaction
from supervm.state.historical import HistoricalStorage
from supervm.state.keys import CHAIN_DATA_START, CODE_PREFIX
from supervm.state.world import WorldState
from supervm_consensus_poa import PoaConsensus, poa_genesis
from supervm_storage_memory import MemoryStorage

AUTHORITIES = [dev_account(i) for i in range(4)]
USER = dev_account(5)
GENESIS = json.dumps(
    poa_genesis([a.address for a in AUTHORITIES], accounts=[USER.address])
).encode()


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial), ("consensus_poa", supervm_consensus_poa)],
    ) as kernel:
        yield kernel


def open_chain(kernel: Kernel) -> Chain:
    return Chain.initialise(kernel, MemoryStorage(), parse_genesis(json.loads(GENESIS)), GENESIS)


def engine(chain: Chain) -> PoaConsensus:
    assert isinstance(chain.consensus, PoaConsensus)
    return chain.consensus


def seal(chain: Chain, parent: BlockHeader, sealer: int, transfers: int = 0) -> Block:
    state = (
        chain.state()
        if parent.hash == chain.head.hash
        else WorldState(HistoricalStorage(chain.open_root(parent.state_root), chain.storage))
    )
    nonce = state.nonce(USER.address)
    txs = [
        sign_transaction(
            UnsignedTransaction(
                type=2,
                chain_id=chain.chain_id,
                nonce=nonce + i,
                max_priority_fee_per_gas=1,
                max_fee_per_gas=10**10,
                gas=21_000,
                to=bytes([0x40 + sealer]) * 20,
                value=1 + i,
                data=b"",
            ),
            USER.private_key,
        )
        for i in range(transfers)
    ]
    account = AUTHORITIES[sealer]
    built = chain.build_block(
        txs, timestamp=parent.timestamp + 1, key=account.private_key, parent=parent,
        coinbase=account.address,
    )  # fmt: skip
    return built.block


def build_tree(kernel: Kernel, nodes: list[tuple[int, int, int]]) -> list[Block]:
    builder = open_chain(kernel)
    poa = engine(builder)
    headers = [builder.head]
    blocks: list[Block] = []
    for back, pick, transfers in nodes:
        parent = headers[max(0, len(headers) - 1 - back)]
        allowed = [
            i
            for i, a in enumerate(AUTHORITIES)
            if poa.recent_signer(a.address, parent.number + 1, parent, chain=builder.store) is None
        ]
        try:
            block = seal(builder, parent, allowed[pick % len(allowed)], transfers)
        except FinalityError:
            continue  # the builder itself never forks below what it saw final
        headers.append(block.header)
        blocks.append(block)
    return blocks


def flat_state(chain: Chain) -> dict[bytes, bytes]:
    return {k: v for k, v in chain.storage.iterate(b"", CHAIN_DATA_START) if k[:1] != CODE_PREFIX}


node = st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 2))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(nodes=st.lists(node, min_size=1, max_size=12), seed=st.integers())
def test_random_forks_never_revert_a_final_block(
    kernel: Kernel, nodes: list[tuple[int, int, int]], seed: int
) -> None:
    blocks = build_tree(kernel, nodes)
    chain = open_chain(kernel)
    poa = engine(chain)
    order = random.Random(seed)
    waiting = list(blocks)
    order.shuffle(waiting)
    gone: set[bytes] = set()
    final_seen: set[bytes] = set()
    reorgs = 0
    while waiting:
        block = waiting.pop(0)
        try:
            outcome = chain.insert_block(encode_block(block))
        except UnknownParentError:
            if block.header.parent_hash in gone:
                gone.add(block.header.hash)
            else:
                waiting.append(block)
            continue
        except FinalityError:
            gone.add(block.header.hash)
            continue
        if outcome.head_change is not None and outcome.head_change.is_reorg:
            reorgs += 1
        final_seen.add(poa.finalized(chain.head, chain=chain.store).hash)
        for block_hash in final_seen:
            header = chain.store.header(block_hash)
            assert header is not None
            assert chain.store.canonical_hash(header.number) == block_hash, "final reverted"
    event(f"{min(reorgs, 3)}+ reorgs")
    event(f"{min(len(gone), 3)}+ refused")
    held = [b for b in blocks if chain.store.has_block(b.header.hash)]
    for block in held:
        assert poa.fork_choice(chain.head, block.header, chain=chain.store) == chain.head
    # The head's branch alone gives the same state and indexes.
    alone = open_chain(kernel)
    branch: list[Block] = []
    cursor = chain.head
    by_hash = {b.header.hash: b for b in held}
    while cursor.number:
        branch.append(by_hash[cursor.hash])
        parent = chain.store.header(cursor.parent_hash)
        assert parent is not None
        cursor = parent
    for block in reversed(branch):
        alone.import_block(block)
    assert alone.head == chain.head
    assert flat_state(alone) == flat_state(chain)
    on_branch = {b.header.hash for b in branch}
    for block in held:
        for index, tx in enumerate(block.transactions):
            location = chain.store.transaction_location(tx.hash)
            if block.header.hash in on_branch:
                assert location == (block.header.hash, index)
            else:
                assert location is None or location[0] in on_branch


def test_the_in_turn_block_wins_whatever_arrives_first(kernel: Kernel) -> None:
    builder = open_chain(kernel)
    genesis = builder.head
    in_turn = seal(builder, genesis, 1, transfers=1)  # block 1 is authority 1's turn
    out_of_turn = seal(builder, genesis, 2, transfers=1)
    assert (in_turn.header.difficulty, out_of_turn.header.difficulty) == (2, 1)
    for first, second in ((in_turn, out_of_turn), (out_of_turn, in_turn)):
        chain = open_chain(kernel)
        chain.import_block(first)
        outcome = chain.insert_block(second)
        assert chain.head == in_turn.header
        assert outcome.status == ("side" if second is out_of_turn else "head")
        assert chain.store.transaction_location(in_turn.transactions[0].hash) is not None
        assert chain.store.transaction_location(out_of_turn.transactions[0].hash) is None


def test_a_partitioned_authority_rejoins_the_majority(kernel: Kernel) -> None:
    """Authority 0 alone seals one block (recency stops it there); authorities 1-3 go on and
    finalize; the lone node takes their branch and refuses nothing it had final."""
    majority = open_chain(kernel)
    genesis = majority.head
    lone = open_chain(kernel)
    lone_block = seal(lone, genesis, 0, transfers=2)
    poa = engine(lone)
    assert poa.recent_signer(AUTHORITIES[0].address, 2, lone_block.header, chain=lone.store) == 1
    assert poa.finalized(lone.head, chain=lone.store) == genesis  # 1 sealer of 4: not final
    tip = genesis
    for sealer in (1, 2, 3, 1):
        tip = seal(majority, tip, sealer, transfers=1).header
    final = engine(majority).finalized(majority.head, chain=majority.store)
    assert final.number == 2
    for number in range(1, majority.head.number + 1):
        block = majority.store.block_by_number(number)
        assert block is not None
        lone.import_block(block)
    assert lone.head == majority.head
    assert lone.store.transaction_location(lone_block.transactions[0].hash) is None
    assert flat_state(lone) == flat_state(majority)
    # The lone block, offered to the majority, forks below its final block 2: refused.
    with pytest.raises(FinalityError, match="a final block is never reverted"):
        majority.import_block(lone_block)
