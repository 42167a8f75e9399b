"""End to end: chains on a ``poa`` genesis build sealed blocks with ``Chain.build_block(key=...)``
and a second chain imports them with ``Chain.import_block``, refusing what breaks the rules."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import coincurve
import pytest
import supervm_consensus_poa
from supervm import ConsensusError, Kernel
from supervm.builtins import scheduler_serial
from supervm.chain.blocks import encode_block
from supervm.chain.chain import BlockImportError, Chain, ChainError
from supervm.chain.dev_accounts import DevAccount, dev_account
from supervm.chain.genesis import parse_genesis
from supervm.chain.transactions import Transaction, UnsignedTransaction, sign_transaction
from supervm_consensus_poa import SEAL, VANITY, PoaConsensus, poa_genesis, seal_hash, signer_of
from supervm_storage_memory import MemoryStorage

A, B, C, USER, MALLORY = (dev_account(i) for i in range(5))
RECIPIENT = bytes([0x42]) * 20


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial), ("consensus_poa", supervm_consensus_poa)],
    ) as kernel:
        yield kernel


def open_chain(kernel: Kernel, genesis: dict[str, Any]) -> Chain:
    raw = json.dumps(genesis).encode()
    return Chain.initialise(kernel, MemoryStorage(), parse_genesis(json.loads(raw)), raw)


def genesis_for(authorities: Sequence[DevAccount], **options: Any) -> dict[str, Any]:
    return poa_genesis([a.address for a in authorities], accounts=[USER.address], **options)


def transfer(chain: Chain, nonce: int, value: int = 1000) -> Transaction:
    unsigned = UnsignedTransaction(
        type=2, chain_id=chain.chain_id, nonce=nonce, max_priority_fee_per_gas=10**9,
        max_fee_per_gas=5 * 10**9, gas=21_000, to=RECIPIENT, value=value, data=b"",
    )  # fmt: skip
    return sign_transaction(unsigned, USER.private_key)


def test_one_authority_builds_and_another_node_imports(kernel: Kernel) -> None:
    genesis = genesis_for([A])
    builder, follower = open_chain(kernel, genesis), open_chain(kernel, genesis)
    assert isinstance(builder.consensus, PoaConsensus)
    assert builder.consensus.validators == (A.address,)
    for number in range(1, 5):
        built = builder.build_block(
            [transfer(builder, number - 1)], timestamp=number, key=A.private_key,
            extra_data=b"supervm", coinbase=A.address,
        )  # fmt: skip
        header = built.block.header
        assert header.number == number and len(built.receipts) == 1
        assert signer_of(header) == A.address
        assert header.extra_data[:VANITY] == b"supervm".ljust(VANITY, b"\0")
        assert header.difficulty == 2 and header.mix_hash == bytes(32)
        follower.import_block(encode_block(built.block))
        assert follower.head.hash == header.hash
    assert follower.state().balance(RECIPIENT) == 4000
    poa = follower.consensus
    assert poa.is_final(follower.head, follower.head, chain=follower.store)


def test_three_authorities_take_turns_through_the_chain(kernel: Kernel) -> None:
    authorities = [A, B, C]
    genesis = genesis_for(authorities, period=2)
    builder, follower = open_chain(kernel, genesis), open_chain(kernel, genesis)
    poa = builder.consensus
    assert isinstance(poa, PoaConsensus)
    for number in range(1, 7):
        signer = poa.proposer(number, builder.head, chain=builder.store)
        slot = poa.sealing_slot(signer, builder.head, chain=builder.store, now=0)
        sealer = next(a for a in authorities if a.address == signer)
        built = builder.build_block([], timestamp=slot.timestamp, key=sealer.private_key)
        assert built.block.header.timestamp == 2 * number  # the period apart
        follower.import_block(encode_block(built.block))
    signers = [signer_of(h) for h in (follower.store.header_by_number(n) for n in range(1, 7)) if h]
    assert signers == [a.address for a in [B, C, A, B, C, A]]
    head = follower.head
    final = follower.consensus.finalized(head, chain=follower.store)  # type: ignore[attr-defined]
    assert final.number == head.number - 1  # majority 2: final once one block is on top


def test_a_block_sealed_by_the_wrong_key_is_refused_on_import(kernel: Kernel) -> None:
    genesis = genesis_for([A])
    builder, follower = open_chain(kernel, genesis), open_chain(kernel, genesis)
    built = builder.build_block([transfer(builder, 0)], timestamp=1, key=A.private_key)
    header = built.block.header
    signature = coincurve.PrivateKey(MALLORY.private_key).sign_recoverable(
        seal_hash(header), hasher=None
    )
    forged = attrs.evolve(header, extra_data=header.extra_data[:-SEAL] + signature)
    block = attrs.evolve(built.block, header=forged)
    with pytest.raises(
        BlockImportError,
        match=f"block 1 sealed by 0x{MALLORY.address.hex()} which is not an authority",
    ):
        follower.import_block(encode_block(block))
    assert follower.head.number == 0  # nothing written
    follower.import_block(encode_block(built.block))  # the genuine block still imports
    assert follower.head.hash == header.hash


def test_building_with_a_key_that_is_not_an_authority_fails(kernel: Kernel) -> None:
    genesis = genesis_for([A])
    builder, follower = open_chain(kernel, genesis), open_chain(kernel, genesis)
    with pytest.raises(ConsensusError, match="not an authority"):
        builder.build_block([transfer(builder, 0)], timestamp=1, key=MALLORY.private_key)
    with pytest.raises(ConsensusError, match="32-byte"):
        builder.build_block([transfer(builder, 0)], timestamp=1)  # no key, as for dev
    assert builder.head.number == 0
    # The refused attempts left nothing behind: the next block is built on the genesis state.
    built = builder.build_block([transfer(builder, 0)], timestamp=1, key=A.private_key)
    follower.import_block(encode_block(built.block))
    assert follower.state().balance(RECIPIENT) == 1000


def test_a_tampered_block_is_refused_on_import(kernel: Kernel) -> None:
    genesis = genesis_for([A])
    builder, follower = open_chain(kernel, genesis), open_chain(kernel, genesis)
    built = builder.build_block([transfer(builder, 0)], timestamp=1, key=A.private_key)
    # A header change the seal does not cover is impossible; any change recovers someone else.
    header = attrs.evolve(built.block.header, coinbase=MALLORY.address)
    with pytest.raises(BlockImportError, match="which is not an authority"):
        follower.import_block(attrs.evolve(built.block, header=header))


def test_an_authority_sealing_too_often_is_refused_on_import(kernel: Kernel) -> None:
    genesis = genesis_for([A, B])
    builder, follower = open_chain(kernel, genesis), open_chain(kernel, genesis)
    first = builder.build_block([], timestamp=1, key=A.private_key)  # out of turn (B's turn)
    assert first.block.header.difficulty == 1
    follower.import_block(encode_block(first.block))
    # The builder does not check recency (seal has no chain): the producer asks sealing_slot.
    second = builder.build_block([], timestamp=2, key=A.private_key)
    with pytest.raises(BlockImportError, match="sealed recently"):
        follower.import_block(encode_block(second.block))


def test_the_period_is_enforced_on_import(kernel: Kernel) -> None:
    # The genesis header does not commit to the period, so both chains share a genesis block.
    builder = open_chain(kernel, genesis_for([A]))
    follower = open_chain(kernel, genesis_for([A], period=10))
    assert builder.head.hash == follower.head.hash
    built = builder.build_block([], timestamp=3, key=A.private_key)
    with pytest.raises(BlockImportError, match="plus the period of 10 s"):
        follower.import_block(encode_block(built.block))


def test_the_genesis_names_the_plugin(kernel: Kernel) -> None:
    genesis = genesis_for([A])
    assert genesis["supervm"]["consensus"] == {
        "engine": "poa", "validators": ["0x" + A.address.hex()], "period": 0,
    }  # fmt: skip
    assert bytes.fromhex(genesis["extraData"][2:]) == bytes(VANITY) + A.address + bytes(SEAL)
    bare = Kernel.from_plugins(
        discover=False, env={}, extra=[("scheduler_serial", scheduler_serial)]
    )
    with pytest.raises(ChainError, match="needs the plugin 'consensus_poa'"):
        open_chain(bare, genesis)
