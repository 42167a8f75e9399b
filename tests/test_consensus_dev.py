"""The built-in ``dev`` consensus engine: one authority, no signature, final at once."""

from __future__ import annotations

import importlib.metadata
import itertools

import attrs
import pytest
import supervm.builtins.consensus_dev as consensus_dev
from supervm import ConsensusError, ConsensusSettings, Kernel
from supervm.builtins.consensus_dev import DEV_AUTHORITY, DevConsensus, dev_mix_hash
from supervm.chain.blocks import BlockHeader
from supervm.chain.dev_accounts import dev_account
from supervm.kernel import DEFAULTS
from supervm.state.keys import keccak256

ENGINE = DevConsensus(ConsensusSettings())


class Headers(dict[bytes, BlockHeader]):
    def header(self, block_hash: bytes) -> BlockHeader | None:
        return self.get(block_hash)

    def add(self, header: BlockHeader) -> BlockHeader:
        self[header.hash] = header
        return header


GENESIS = BlockHeader(
    parent_hash=bytes(32), coinbase=bytes(20), state_root=bytes(32), number=0,
    gas_limit=30_000_000, timestamp=1_700_000_000,
)  # fmt: skip


def draft(parent: BlockHeader, **fields: object) -> BlockHeader:
    values: dict[str, object] = {
        "parent_hash": parent.hash,
        "coinbase": bytes(20),
        "state_root": bytes(32),
        "number": parent.number + 1,
        "gas_limit": parent.gas_limit,
        "timestamp": parent.timestamp + 1,
    }
    values.update(fields)
    return BlockHeader(**values)  # type: ignore[arg-type]


def extend(chain: Headers, parent: BlockHeader, **fields: object) -> BlockHeader:
    prepared = ENGINE.prepare(draft(parent, **fields), parent, chain=chain)
    return chain.add(ENGINE.seal(prepared, b"\x01" * 32))


def make_chain(length: int) -> tuple[Headers, list[BlockHeader]]:
    chain = Headers()
    headers = [chain.add(GENESIS)]
    for _ in range(length):
        headers.append(extend(chain, headers[-1]))
    return chain, headers


# -- the built-in plugin path ---------------------------------------------------------------------


def test_dev_is_a_builtin_plugin_of_the_kernel_distribution() -> None:
    (ep,) = [
        ep
        for ep in importlib.metadata.entry_points(group="supervm.plugins")
        if ep.name == "consensus_dev"
    ]
    assert ep.value == "supervm.builtins.consensus_dev"
    assert ep.dist is not None and ep.dist.metadata["Name"] == "supervm"


def test_installed_kernel_defaults_to_dev() -> None:
    assert DEFAULTS["consensus"] == "dev"
    with Kernel.from_plugins(env={}) as kernel:
        assert kernel.consensus_engines.entry("dev").plugin == "consensus_dev"
        assert kernel.default_name("consensus") == "dev"
        assert isinstance(kernel.consensus(), DevConsensus)


def test_registered_inline_like_any_plugin() -> None:
    kernel = Kernel.from_plugins(discover=False, env={}, extra=[("consensus_dev", consensus_dev)])
    assert kernel.consensus_engines.names() == ["dev"]
    engine = kernel.consensus(settings=ConsensusSettings(validators=(bytes([9]) * 20,)))
    assert engine.proposer(1, GENESIS, chain=Headers()) == bytes([9]) * 20


# -- the rules ------------------------------------------------------------------------------------


def test_the_authority_proposes_every_block() -> None:
    assert dev_account(0).address == DEV_AUTHORITY
    assert {ENGINE.proposer(n, GENESIS, chain=Headers()) for n in range(1, 20)} == {DEV_AUTHORITY}
    alice = bytes([0xA1]) * 20
    engine = DevConsensus(ConsensusSettings(validators=(alice,)))
    assert engine.authority == alice and engine.proposer(1, GENESIS, chain=Headers()) == alice


def test_more_than_one_validator_is_refused() -> None:
    with pytest.raises(ConsensusError, match="single authority, got 2 validators"):
        DevConsensus(ConsensusSettings(validators=(bytes(20), bytes([1]) * 20)))


def test_prepare_sets_difficulty_nonce_and_mix_hash() -> None:
    before = draft(GENESIS, difficulty=5, nonce=b"\x01" * 8, extra_data=b"my dev chain")
    prepared = ENGINE.prepare(before, GENESIS, chain=Headers())
    assert prepared.difficulty == 0
    assert prepared.nonce == bytes(8)
    assert prepared.mix_hash == keccak256(GENESIS.hash) == dev_mix_hash(GENESIS)
    assert prepared.extra_data == b"my dev chain"
    assert attrs.evolve(prepared, difficulty=5, nonce=b"\x01" * 8, mix_hash=bytes(32)) == before


def test_prevrandao_differs_from_block_to_block() -> None:
    _, headers = make_chain(5)
    assert len({h.mix_hash for h in headers[1:]}) == 5


def test_seal_is_the_identity() -> None:
    header = ENGINE.prepare(draft(GENESIS), GENESIS, chain=Headers())
    assert ENGINE.seal(header, b"\x07" * 32) is header


def test_verify_seal_accepts_what_prepare_made() -> None:
    chain, headers = make_chain(4)
    for parent, header in itertools.pairwise(headers):
        ENGINE.verify_seal(header, parent, chain=chain)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"difficulty": 1}, "block 1: difficulty 1, expected 0"),
        ({"nonce": b"\x00" * 7 + b"\x01"}, "block 1: nonce 0x0000000000000001, expected zero"),
        ({"mix_hash": bytes(32)}, "block 1: mix hash 0x0{64}, expected 0x[0-9a-f]{64} .keccak256"),
        ({"extra_data": bytes(33)}, "block 1: extra data is 33 bytes, at most 32"),
        ({"number": 2}, "block 2 .* is not a child of block 0"),
        ({"parent_hash": bytes([1]) * 32}, "block 1 .parent 0x0101.* is not a child of block 0"),
    ],
)
def test_verify_seal_names_what_is_wrong(change: dict[str, object], message: str) -> None:
    chain, headers = make_chain(1)
    with pytest.raises(ConsensusError, match=message):
        ENGINE.verify_seal(attrs.evolve(headers[1], **change), GENESIS, chain=chain)


def test_prepare_refuses_long_extra_data() -> None:
    with pytest.raises(ConsensusError, match="extra data is 40 bytes, at most 32"):
        ENGINE.prepare(draft(GENESIS, extra_data=bytes(40)), GENESIS, chain=Headers())


def test_fork_choice_by_height_then_hash() -> None:
    chain, headers = make_chain(3)
    sibling = extend(chain, headers[2], extra_data=b"fork")  # another block 3
    taller = extend(chain, sibling)
    head = headers[3]
    assert ENGINE.fork_choice(head, headers[2], chain=chain) is head
    assert ENGINE.fork_choice(headers[2], head, chain=chain) is head
    assert ENGINE.fork_choice(head, taller, chain=chain) is taller
    smaller, larger = sorted((head, sibling), key=lambda h: h.hash)
    assert ENGINE.fork_choice(larger, smaller, chain=chain) is smaller
    assert ENGINE.fork_choice(smaller, larger, chain=chain) is smaller
    assert ENGINE.fork_choice(head, head, chain=chain) is head


def test_a_block_is_final_once_it_is_the_head_or_its_ancestor() -> None:
    chain, headers = make_chain(4)
    head = headers[3]
    assert [ENGINE.is_final(h, head, chain=chain) for h in headers] == [
        True, True, True, True, False,  # headers[4] is a descendant of the head: not yet
    ]  # fmt: skip
    sibling = extend(chain, headers[1], extra_data=b"fork")
    assert not ENGINE.is_final(sibling, head, chain=chain)  # not on the head's chain
    assert ENGINE.is_final(sibling, sibling, chain=chain)  # unless it becomes the head


def test_finality_without_the_history_is_not_assumed() -> None:
    chain, headers = make_chain(3)
    del chain[headers[1].hash]  # the walk from the head cannot get past block 2
    assert not ENGINE.is_final(GENESIS, headers[3], chain=chain)
    assert ENGINE.is_final(headers[2], headers[3], chain=chain)
