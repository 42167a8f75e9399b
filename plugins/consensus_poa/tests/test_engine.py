"""The ``poa`` engine's rules, on headers alone: sealing, verification, turns, recency, time,
fork choice and finality, for one authority and for several."""

from __future__ import annotations

import importlib.metadata
import itertools
import random
from collections.abc import Sequence

import attrs
import coincurve
import pytest
import supervm_consensus_poa
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm import ConsensusError, ConsensusSettings, Kernel
from supervm.chain.blocks import EMPTY_TRIE_ROOT, BlockHeader, encode_header
from supervm.chain.dev_accounts import DevAccount, dev_account
from supervm.crypto import keccak256
from supervm_consensus_poa import (
    DIFF_IN_TURN,
    DIFF_NO_TURN,
    SEAL,
    VANITY,
    PoaConsensus,
    seal_hash,
    signer_of,
)

ACCOUNTS = [dev_account(i) for i in range(6)]
A, B, C, D, E, MALLORY = ACCOUNTS
NOW = 1_700_001_000.0
GENESIS_TIME = 1_700_000_000


class Headers(dict[bytes, BlockHeader]):
    """An in-memory store of headers: a HeaderReader."""

    def header(self, block_hash: bytes) -> BlockHeader | None:
        return self.get(block_hash)

    def add(self, header: BlockHeader) -> BlockHeader:
        self[header.hash] = header
        return header


GENESIS = BlockHeader(
    parent_hash=bytes(32), coinbase=bytes(20), state_root=bytes(32), number=0,
    gas_limit=30_000_000, timestamp=GENESIS_TIME, difficulty=1,
    extra_data=bytes(VANITY) + A.address + bytes(SEAL), base_fee_per_gas=10**9,
)  # fmt: skip


def engine(
    authorities: Sequence[DevAccount] = (A,), clock: float = NOW, **options: object
) -> PoaConsensus:
    validators = tuple(a.address for a in authorities)
    settings_ = ConsensusSettings(validators, {k: str(v) for k, v in options.items()})
    return PoaConsensus(settings_, clock=lambda: clock, rng=random.Random(7))


def draft(parent: BlockHeader, **fields: object) -> BlockHeader:
    values: dict[str, object] = {
        "parent_hash": parent.hash,
        "coinbase": bytes([0xC0]) * 20,
        "state_root": bytes([1]) * 32,
        "number": parent.number + 1,
        "gas_limit": parent.gas_limit,
        "timestamp": parent.timestamp + 1,
        "base_fee_per_gas": 10**9,
        "withdrawals_root": EMPTY_TRIE_ROOT,
        "blob_gas_used": 0,
        "excess_blob_gas": 0,
        "parent_beacon_block_root": bytes(32),
    }
    values.update(fields)
    return BlockHeader(**values)  # type: ignore[arg-type]


def build(
    poa: PoaConsensus,
    chain: Headers,
    parent: BlockHeader,
    sealer: DevAccount,
    **fields: object,
) -> BlockHeader:
    """What the producer does: prepare a draft, (execute it,) seal it; stored in ``chain``."""
    prepared = poa.prepare(draft(parent, **fields), parent, chain=chain)
    return chain.add(poa.seal(prepared, sealer.private_key))


def resign(header: BlockHeader, key: bytes, **fields: object) -> BlockHeader:
    """``header`` with ``fields`` changed and signed again with ``key``, whatever the rules say."""
    changed = attrs.evolve(header, **fields)  # type: ignore[arg-type]
    signature = coincurve.PrivateKey(key).sign_recoverable(seal_hash(changed), hasher=None)
    return attrs.evolve(changed, extra_data=changed.extra_data[:-SEAL] + signature)


def in_turn_chain(
    poa: PoaConsensus, authorities: Sequence[DevAccount], length: int
) -> tuple[Headers, list[BlockHeader]]:
    chain = Headers()
    headers = [chain.add(GENESIS)]
    for number in range(1, length + 1):
        sealer = authorities[number % len(authorities)]
        headers.append(build(poa, chain, headers[-1], sealer))
    return chain, headers


# -- registration and settings ------------------------------------------------------------------


def test_registered_as_poa_by_the_installed_plugin() -> None:
    (ep,) = [
        e
        for e in importlib.metadata.entry_points(group="supervm.plugins")
        if e.name == "consensus_poa"
    ]
    assert ep.value == "supervm_consensus_poa"
    with Kernel.from_plugins(env={}) as kernel:
        assert kernel.consensus_engines.entry("poa").plugin == "consensus_poa"
        poa = kernel.consensus("poa", ConsensusSettings((A.address,), {"period": "3"}))
        assert isinstance(poa, PoaConsensus) and poa.options.period == 3


def test_registered_inline() -> None:
    kernel = Kernel.from_plugins(
        discover=False, env={}, extra=[("consensus_poa", supervm_consensus_poa)]
    )
    assert kernel.consensus_engines.names() == ["poa"]


@pytest.mark.parametrize(
    ("validators", "options", "message"),
    [
        ((), {}, "needs at least one authority"),
        ((A.address, A.address), {}, "listed twice"),
        ((A.address[:19],), {}, "20-byte address"),
        ((A.address,), {"period": "soon"}, "'period' must be a whole number of seconds"),
        ((A.address,), {"period": "-1"}, "'period' must be at least 0"),
        ((A.address,), {"epoch": "0"}, "'epoch' must be at least 1"),
        ((A.address,), {"perod": "1"}, "unknown option 'perod'"),
        ((A.address,), {"options": "{'period': 0}"}, 'not under "options"'),
    ],
)
def test_bad_settings_are_refused_by_name(
    validators: tuple[bytes, ...], options: dict[str, str], message: str
) -> None:
    with pytest.raises(ConsensusError, match=message):
        PoaConsensus(ConsensusSettings(validators, options))


def test_options_parse() -> None:
    poa = engine(period="0x5", epoch=100, allowed_future=0)
    assert (poa.options.period, poa.options.epoch, poa.options.allowed_future) == (5, 100, 0)
    defaults = engine().options
    assert (defaults.period, defaults.epoch, defaults.allowed_future) == (0, 30_000, 15)


# -- seal and verify ----------------------------------------------------------------------------


def test_seal_verify_round_trip_one_authority() -> None:
    poa = engine()
    chain, headers = in_turn_chain(poa, [A], 6)
    fresh = engine()  # recovers every signer itself, nothing cached
    for parent, header in itertools.pairwise(headers):
        fresh.verify_seal(header, parent, chain=chain)
        assert signer_of(header) == A.address
        assert header.difficulty == DIFF_IN_TURN  # the only authority is always in turn
        assert header.nonce == bytes(8) and header.mix_hash == bytes(32)
        assert len(header.extra_data) == VANITY + SEAL


def test_prepare_keeps_the_vanity_and_makes_room_for_the_seal() -> None:
    poa = engine()
    prepared = poa.prepare(draft(GENESIS, extra_data=b"supervm"), GENESIS, chain=Headers())
    assert prepared.extra_data == b"supervm".ljust(VANITY, b"\0") + bytes(SEAL)
    with pytest.raises(ConsensusError, match="at most 32"):
        poa.prepare(draft(GENESIS, extra_data=bytes(33)), GENESIS, chain=Headers())


def test_the_seal_covers_every_field_but_itself() -> None:
    poa = engine()
    chain = Headers({GENESIS.hash: GENESIS})
    header = build(poa, chain, GENESIS, A)
    base = seal_hash(header)
    assert base == keccak256(
        encode_header(attrs.evolve(header, extra_data=header.extra_data[:-SEAL]))
    )
    assert seal_hash(attrs.evolve(header, extra_data=header.extra_data[:-1] + b"\x01")) == base
    changes: dict[str, object] = {
        "parent_hash": bytes(32), "coinbase": bytes(20), "state_root": bytes(32),
        "transactions_root": bytes(32), "receipts_root": bytes(32),
        "logs_bloom": bytes([1]) * 256, "difficulty": 1, "number": 9, "gas_limit": 1,
        "gas_used": 1, "timestamp": 1, "mix_hash": bytes([1]) * 32, "nonce": bytes([1]) * 8,
        "base_fee_per_gas": 1, "withdrawals_root": bytes(32), "blob_gas_used": 1,
        "excess_blob_gas": 1, "parent_beacon_block_root": bytes([1]) * 32,
        "extra_data": b"x" + header.extra_data[1:],
    }  # fmt: skip
    assert header.field_count == 20  # every Cancun field is present and signed
    for name, value in changes.items():
        changed = attrs.evolve(header, **{name: value})  # type: ignore[arg-type]
        assert seal_hash(changed) != base, name


def test_a_tampered_header_recovers_another_signer() -> None:
    poa = engine()
    chain = Headers({GENESIS.hash: GENESIS})
    header = build(poa, chain, GENESIS, A)
    tampered = attrs.evolve(header, gas_used=header.gas_used + 1)
    with pytest.raises(ConsensusError, match=r"block 1 sealed by 0x[0-9a-f]{40} which is not an"):
        engine().verify_seal(tampered, GENESIS, chain=chain)


def test_a_block_sealed_by_a_non_authority_is_refused() -> None:
    poa = engine()
    chain = Headers({GENESIS.hash: GENESIS})
    header = build(poa, chain, GENESIS, A)
    forged = resign(header, MALLORY.private_key)
    assert signer_of(forged) == MALLORY.address
    with pytest.raises(
        ConsensusError, match=f"block 1 sealed by 0x{MALLORY.address.hex()} which is not"
    ):
        poa.verify_seal(forged, GENESIS, chain=chain)


def test_sealing_with_a_non_authority_key_is_refused() -> None:
    poa = engine()
    prepared = poa.prepare(draft(GENESIS), GENESIS, chain=Headers())
    with pytest.raises(ConsensusError, match="is not an authority of this chain"):
        poa.seal(prepared, MALLORY.private_key)
    with pytest.raises(ConsensusError, match="32-byte"):
        poa.seal(prepared, b"\x01" * 31)
    with pytest.raises(ConsensusError, match="not a valid secp256k1"):
        poa.seal(prepared, bytes(32))
    with pytest.raises(ConsensusError, match="prepare the header"):
        poa.seal(draft(GENESIS), A.private_key)


def test_a_signer_that_is_an_authority_but_claims_the_wrong_turn() -> None:
    poa = engine([A, B, C])
    chain = Headers({GENESIS.hash: GENESIS})
    # Block 1 is B's turn (validators[1 % 3]); A seals out of turn, honestly with difficulty 1.
    honest = build(poa, chain, GENESIS, A)
    assert honest.difficulty == DIFF_NO_TURN
    poa.verify_seal(honest, GENESIS, chain=chain)
    greedy = resign(honest, A.private_key, difficulty=DIFF_IN_TURN)
    with pytest.raises(ConsensusError, match=r"wrong difficulty 2, expected 1: .* out of turn"):
        poa.verify_seal(greedy, GENESIS, chain=chain)
    # The in-turn B claiming the out-of-turn difficulty is wrong too.
    modest = resign(build(poa, chain, GENESIS, B), B.private_key, difficulty=DIFF_NO_TURN)
    with pytest.raises(ConsensusError, match=r"wrong difficulty 1, expected 2: .* in turn"):
        poa.verify_seal(modest, GENESIS, chain=chain)
    with pytest.raises(ConsensusError, match="wrong difficulty 5, expected 2 in turn or 1"):
        poa.verify_seal(resign(honest, A.private_key, difficulty=5), GENESIS, chain=chain)


def test_a_block_re_signed_by_another_authority_is_checked_for_its_signer() -> None:
    # B's in-turn block, signed by C instead (the "wrong signer"): C is out of turn at 1.
    poa = engine([A, B, C])
    chain = Headers({GENESIS.hash: GENESIS})
    header = build(poa, chain, GENESIS, B)
    wrong = resign(header, C.private_key)
    assert signer_of(wrong) == C.address
    with pytest.raises(ConsensusError, match=f"its signer 0x{C.address.hex()} is out of turn"):
        poa.verify_seal(wrong, GENESIS, chain=chain)


@pytest.mark.parametrize("count", [2, 3, 4, 5, 7])
def test_recently_signed_is_refused(count: int) -> None:
    authorities = ACCOUNTS[:count]
    poa = engine(authorities)
    window = count // 2 + 1
    assert poa.majority == window
    chain = Headers({GENESIS.hash: GENESIS})
    # A seals block 1; then others seal the next window - 2 blocks, then A again: too soon.
    headers = [GENESIS, build(poa, chain, GENESIS, A)]
    others = [x for x in authorities if x is not A]
    for i in range(window - 2):
        headers.append(build(poa, chain, headers[-1], others[i]))
    too_soon = build(poa, chain, headers[-1], A)
    with pytest.raises(ConsensusError, match=rf"signer 0x{A.address.hex()} sealed recently"):
        poa.verify_seal(too_soon, headers[-1], chain=chain)
    with pytest.raises(
        ConsensusError, match=r"0x[0-9a-f]{40} signed recently \(block \d+\), must wait for others"
    ):
        poa.sealing_slot(A.address, headers[-1], chain=chain, now=NOW)
    # One more block by someone else, and A may seal again.
    headers.append(build(poa, chain, headers[-1], others[window - 2]))
    again = build(poa, chain, headers[-1], A)
    poa.verify_seal(again, headers[-1], chain=chain)


def test_one_authority_seals_every_block() -> None:
    poa = engine([A])
    assert poa.majority == 1
    chain, headers = in_turn_chain(poa, [A], 4)
    assert poa.recent_signer(A.address, 5, headers[-1], chain=chain) is None


def test_rotation_by_height_for_three_authorities() -> None:
    poa = engine([A, B, C])
    chain, headers = in_turn_chain(poa, [A, B, C], 9)
    expected = [B, C, A, B, C, A, B, C, A]
    assert [poa.proposer(n, GENESIS, chain=chain) for n in range(1, 10)] == [
        x.address for x in expected
    ]
    assert [signer_of(h) for h in headers[1:]] == [x.address for x in expected]
    assert {h.difficulty for h in headers[1:]} == {DIFF_IN_TURN}
    fresh = engine([A, B, C])
    for parent, header in itertools.pairwise(headers):
        fresh.verify_seal(header, parent, chain=chain)


def test_timestamp_before_parent_plus_period_is_refused() -> None:
    poa = engine(period=5)
    chain = Headers({GENESIS.hash: GENESIS})
    # prepare moves a too early timestamp to the parent's plus the period ...
    on_time = build(poa, chain, GENESIS, A, timestamp=GENESIS_TIME + 1)
    assert on_time.timestamp == GENESIS_TIME + 5
    poa.verify_seal(on_time, GENESIS, chain=chain)
    # ... and verify refuses one that was not.
    early = resign(on_time, A.private_key, timestamp=GENESIS_TIME + 4)
    with pytest.raises(ConsensusError, match=r"before its parent's .* plus the period of 5 s"):
        poa.verify_seal(early, GENESIS, chain=chain)


def test_a_block_from_the_future_is_refused() -> None:
    chain = Headers({GENESIS.hash: GENESIS})
    poa = engine(clock=GENESIS_TIME)
    limit = build(poa, chain, GENESIS, A, timestamp=GENESIS_TIME + 15)
    poa.verify_seal(limit, GENESIS, chain=chain)
    beyond = build(poa, chain, GENESIS, A, timestamp=GENESIS_TIME + 16)
    with pytest.raises(ConsensusError, match=r"16 s in the future \(at most 15 s allowed\)"):
        poa.verify_seal(beyond, GENESIS, chain=chain)
    strict = engine(clock=GENESIS_TIME + 1, allowed_future=0)
    with pytest.raises(ConsensusError, match="in the future"):
        strict.verify_seal(
            build(strict, chain, GENESIS, A, timestamp=GENESIS_TIME + 2), GENESIS, chain=chain
        )


def test_field_rules() -> None:
    poa = engine()
    chain = Headers({GENESIS.hash: GENESIS})
    header = build(poa, chain, GENESIS, A)
    key = A.private_key
    cases: list[tuple[BlockHeader, str]] = [
        (resign(header, key, nonce=b"\xff" * 8), "nonce 0xffffffffffffffff, expected zero"),
        (resign(header, key, mix_hash=b"\x01" * 32), "mix digest 0x01"),
        (resign(header, key, ommers_hash=bytes(32)), "no ommers"),
        (attrs.evolve(header, extra_data=header.extra_data[-SEAL:]), "expected at least 97"),
        (
            resign(header, key, extra_data=bytes(VANITY) + A.address + bytes(SEAL)),
            "only checkpoint blocks carry the authority list",
        ),
        (attrs.evolve(header, parent_hash=bytes(32)), "is not a child of block 0"),
    ]
    for bad, message in cases:
        with pytest.raises(ConsensusError, match=message):
            poa.verify_seal(bad, GENESIS, chain=chain)
    with pytest.raises(ConsensusError, match="genesis"):
        poa.verify_seal(GENESIS, GENESIS, chain=chain)


def test_malformed_seals() -> None:
    poa = engine()
    chain = Headers({GENESIS.hash: GENESIS})
    header = build(poa, chain, GENESIS, A)
    seal = header.extra_data[-SEAL:]
    body = header.extra_data[:-SEAL]
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(seal[32:64], "big")
    high_s = seal[:32] + (n - s).to_bytes(32, "big") + bytes([seal[64] ^ 1])
    for bad_seal, message in [
        (seal[:64] + b"\x02", "recovery id 2"),
        (bytes(32) + seal[32:], "out of range"),
        (high_s, "high s"),
    ]:
        with pytest.raises(ConsensusError, match=message):
            poa.verify_seal(attrs.evolve(header, extra_data=body + bad_seal), GENESIS, chain=chain)
    # The mirrored signature is valid ECDSA for the same key: only the low-s rule refuses it.
    recovered = coincurve.PublicKey.from_signature_and_message(
        high_s, seal_hash(header), hasher=None
    ).format(compressed=False)
    assert keccak256(recovered[1:])[12:] == A.address


def test_checkpoint_blocks_carry_the_authority_list() -> None:
    poa = engine([A, B], epoch=2)
    chain, headers = in_turn_chain(poa, [A, B], 4)
    listed = A.address + B.address
    assert [h.extra_data[VANITY:-SEAL] for h in headers[1:]] == [b"", listed, b"", listed]
    fresh = engine([A, B], epoch=2)
    for parent, header in itertools.pairwise(headers):
        fresh.verify_seal(header, parent, chain=chain)
    unlisted = headers[2].extra_data[:VANITY] + bytes(SEAL)
    missing = resign(headers[2], A.private_key, extra_data=unlisted)
    with pytest.raises(ConsensusError, match=r"checkpoint block .* must list the 2 authorities"):
        fresh.verify_seal(missing, headers[1], chain=chain)


# -- sealing schedule ---------------------------------------------------------------------------


def test_sealing_slot_in_and_out_of_turn() -> None:
    poa = engine([A, B, C], period=5)
    chain = Headers({GENESIS.hash: GENESIS})
    now = GENESIS_TIME + 2.5
    in_turn = poa.sealing_slot(B.address, GENESIS, chain=chain, now=now)
    assert in_turn.in_turn and in_turn.difficulty == DIFF_IN_TURN
    assert in_turn.timestamp == GENESIS_TIME + 5 and in_turn.delay == pytest.approx(2.5)
    out = poa.sealing_slot(A.address, GENESIS, chain=chain, now=now)
    assert not out.in_turn and out.difficulty == DIFF_NO_TURN
    assert out.timestamp == GENESIS_TIME + 5
    assert 2.5 <= out.delay < 2.5 + poa.majority * 0.5
    late = poa.sealing_slot(B.address, GENESIS, chain=chain, now=GENESIS_TIME + 60.2)
    assert late.timestamp == GENESIS_TIME + 60 and late.delay == 0
    with pytest.raises(ConsensusError, match="not an authority"):
        poa.sealing_slot(MALLORY.address, GENESIS, chain=chain, now=now)


def test_period_zero_seals_at_once_until_the_future_limit() -> None:
    poa = engine([A])
    chain = Headers({GENESIS.hash: GENESIS})
    ahead = draft(GENESIS, timestamp=GENESIS_TIME + 15)
    chain.add(ahead)
    slot = poa.sealing_slot(A.address, ahead, chain=chain, now=GENESIS_TIME)
    assert slot.timestamp == GENESIS_TIME + 16 and slot.delay == pytest.approx(1.0)
    slot = poa.sealing_slot(A.address, GENESIS, chain=chain, now=GENESIS_TIME + 0.5)
    assert slot.timestamp == GENESIS_TIME + 1 and slot.delay == 0


# -- finality -----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_a_block_is_final_once_a_majority_sealed_on_it(count: int) -> None:
    authorities = ACCOUNTS[:count]
    poa = engine(authorities)
    chain, headers = in_turn_chain(poa, authorities, 8)
    depth = count // 2  # blocks on top needed: with the recency rule, the majority minus one
    for h, head in enumerate(headers):
        expected = headers[h - depth] if h - depth >= 1 else GENESIS
        assert poa.finalized(head, chain=chain) == expected
        for x, header in enumerate(headers[: h + 1]):
            assert poa.is_final(header, head, chain=chain) == (x == 0 or h - x >= depth)
    assert poa.is_final(GENESIS, GENESIS, chain=chain)


def test_one_authority_blocks_are_final_at_once() -> None:
    poa = engine([A])
    chain, headers = in_turn_chain(poa, [A], 3)
    assert poa.finalized(headers[3], chain=chain) == headers[3]
    assert all(poa.is_final(h, headers[3], chain=chain) for h in headers)


def test_a_block_off_the_head_chain_is_not_final() -> None:
    poa = engine([A, B, C])
    chain, headers = in_turn_chain(poa, [A, B, C], 4)
    side = build(poa, chain, headers[1], A, extra_data=b"side")
    assert not poa.is_final(side, headers[4], chain=chain)
    assert poa.is_final(headers[1], headers[4], chain=chain)


# -- fork choice --------------------------------------------------------------------------------


def test_the_heavier_branch_wins_and_ties_break_by_number_then_hash() -> None:
    poa = engine([A, B, C, D, E])  # majority 3: two blocks on a branch are not final yet
    chain = Headers({GENESIS.hash: GENESIS})
    in_turn = build(poa, chain, GENESIS, B)  # block 1 is B's turn: weight 2
    out_of_turn = build(poa, chain, GENESIS, C)  # weight 1
    assert poa.fork_choice(out_of_turn, in_turn, chain=chain) == in_turn
    assert poa.fork_choice(in_turn, out_of_turn, chain=chain) == in_turn
    # Two out-of-turn blocks weigh what one in-turn block does: the shorter chain wins.
    two = build(poa, chain, out_of_turn, D)
    assert two.difficulty == DIFF_NO_TURN
    assert poa.fork_choice(two, in_turn, chain=chain) == in_turn
    assert poa.fork_choice(in_turn, two, chain=chain) == in_turn
    # Equal weight and height: the smaller hash, whichever is the head.
    other = build(poa, chain, GENESIS, D)
    low, high = sorted([out_of_turn, other], key=lambda h: h.hash)
    assert poa.fork_choice(high, low, chain=chain) == low
    assert poa.fork_choice(low, high, chain=chain) == low
    assert poa.fork_choice(low, low, chain=chain) is low
    # A child always beats its parent.
    assert poa.fork_choice(in_turn, build(poa, chain, in_turn, A), chain=chain) != in_turn


def test_a_heavier_branch_never_reverts_a_final_block() -> None:
    poa = engine([A, B, C])  # majority 2
    chain = Headers({GENESIS.hash: GENESIS})
    # Head branch: two out-of-turn blocks, A then B (weight 2); block 1 is final on it.
    a1 = build(poa, chain, GENESIS, A)
    head = build(poa, chain, a1, B, extra_data=b"head")
    assert (a1.difficulty, head.difficulty) == (DIFF_NO_TURN, DIFF_NO_TURN)
    assert poa.is_final(a1, head, chain=chain)
    # Rival branch: B's in-turn block 1 and C's in-turn block 2 (weight 4): heavier.
    b1 = build(poa, chain, GENESIS, B)
    rival = build(poa, chain, b1, C, extra_data=b"rival")
    assert b1.difficulty + rival.difficulty > a1.difficulty + head.difficulty
    # Its block 1 is final on it too: the finalized blocks conflict, so the head stays.
    assert poa.fork_choice(head, rival, chain=chain) == head
    # A rival whose blocks are not final (one block on top of genesis) never wins either.
    assert poa.fork_choice(head, b1, chain=chain) == head
    # While nothing on the head's branch is final, the heavier branch wins.
    assert poa.fork_choice(a1, b1, chain=chain) == b1


def test_fork_choice_needs_the_ancestors() -> None:
    poa = engine([A, B, C])
    chain = Headers({GENESIS.hash: GENESIS})
    one = build(poa, chain, GENESIS, B)
    two = build(poa, chain, GENESIS, A)
    del chain[GENESIS.hash]
    with pytest.raises(ConsensusError, match="unknown"):
        poa.fork_choice(one, two, chain=chain)


# -- properties over random block trees -----------------------------------------------------------

# A step adds a block: (which existing block is its parent, which allowed authority seals it).
STEPS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=14)


def random_tree(
    count: int, steps: list[tuple[int, int]]
) -> tuple[PoaConsensus, Headers, list[BlockHeader]]:
    """Blocks in creation order, each on a random earlier block by a random authority that
    the recency rule allows there (every block is valid; branches may be sealed by the same
    authority, which is how conflicting finality arises)."""
    authorities = ACCOUNTS[:count]
    poa = engine(authorities)
    chain = Headers({GENESIS.hash: GENESIS})
    blocks = [GENESIS]
    for parent_pick, sealer_pick in steps:
        parent = blocks[parent_pick % len(blocks)]
        allowed = [
            x
            for x in authorities
            if poa.recent_signer(x.address, parent.number + 1, parent, chain=chain) is None
        ]
        sealer = allowed[sealer_pick % len(allowed)]
        header = build(poa, chain, parent, sealer, extra_data=len(blocks).to_bytes(4, "big"))
        poa.verify_seal(header, parent, chain=chain)
        blocks.append(header)
    return poa, chain, blocks


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 5), steps=STEPS)
def test_a_node_never_reverts_a_block_it_saw_final(
    count: int, steps: list[tuple[int, int]]
) -> None:
    poa, chain, blocks = random_tree(count, steps)
    head = GENESIS
    final_seen: list[BlockHeader] = []
    for block in blocks[1:]:
        previous = head
        head = poa.fork_choice(head, block, chain=chain)
        assert head in (previous, block)
        final_seen.append(poa.finalized(head, chain=chain))
        for final in final_seen:
            assert poa.is_final(final, head, chain=chain)


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 5), steps=STEPS, pick=st.tuples(st.integers(0, 99), st.integers(0, 99)))
def test_fork_choice_is_one_of_the_two_and_symmetric_without_conflicting_finality(
    count: int, steps: list[tuple[int, int]], pick: tuple[int, int]
) -> None:
    poa, chain, blocks = random_tree(count, steps)
    a, b = blocks[pick[0] % len(blocks)], blocks[pick[1] % len(blocks)]
    winner = poa.fork_choice(a, b, chain=chain)
    assert winner in (a, b)
    assert poa.fork_choice(a, a, chain=chain) == a
    fa, fb = poa.finalized(a, chain=chain), poa.finalized(b, chain=chain)
    ordered = poa.is_final(fa, b, chain=chain) or poa.is_final(fb, a, chain=chain)
    if ordered:  # one finalized block is on the other's chain: no conflict, one answer
        assert poa.fork_choice(b, a, chain=chain) == winner
        # The winner keeps everything final on either side.
        assert poa.is_final(fa, winner, chain=chain)
        assert poa.is_final(fb, winner, chain=chain)


@settings(max_examples=30, deadline=None)
@given(count=st.integers(1, 5), steps=STEPS)
def test_without_finality_on_either_side_the_total_difficulty_decides(
    count: int, steps: list[tuple[int, int]]
) -> None:
    poa, chain, blocks = random_tree(count, steps)

    def total_difficulty(header: BlockHeader) -> int:
        total = 0
        while header.number > 0:
            total += header.difficulty
            parent = chain.header(header.parent_hash)
            assert parent is not None
            header = parent
        return total

    for a in blocks[-4:]:
        for b in blocks[-4:]:
            if poa.finalized(a, chain=chain) != poa.finalized(b, chain=chain):
                continue
            key = min([a, b], key=lambda h: (-total_difficulty(h), h.number, h.hash))
            assert poa.fork_choice(a, b, chain=chain) == key


def test_recency_reads_only_the_window() -> None:
    poa = engine([A, B, C])  # window 2: only the parent matters
    chain, headers = in_turn_chain(poa, [A, B, C], 3)
    del chain[headers[2].hash]
    assert poa.recent_signer(B.address, 4, headers[3], chain=chain) is None
    poa.verify_seal(build(poa, chain, headers[3], B), headers[3], chain=chain)
    wide = engine([A, B, C, D])  # window 3: the grandparent is needed
    with pytest.raises(ConsensusError, match="is unknown"):
        wide.recent_signer(D.address, 4, headers[3], chain=chain)
