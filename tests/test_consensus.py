"""The consensus interface, implemented completely by a Clique-style engine that an inline plugin
contributes through ``supervm_register_consensus``.

``MiniClique`` is proof of authority as geth's Clique does it, without voting: validators take
turns; the in-turn validator seals with difficulty 2, others with 1; the seal is a secp256k1
signature in the last 65 bytes of ``extra_data``; a validator may not seal twice within
``len(validators) // 2 + 1`` blocks; the heaviest chain (total difficulty) wins; a block is final
once a majority of validators have sealed on top of it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import attrs
import coincurve
import pytest
from supervm import (
    ConsensusEngine,
    ConsensusError,
    ConsensusSettings,
    HeaderReader,
    Kernel,
    SuperVMError,
    UnknownImplementationError,
    hookimpl,
)
from supervm.chain.blocks import BlockHeader, encode_header
from supervm.chain.consensus import is_ancestor
from supervm.chain.dev_accounts import dev_account
from supervm.plugins.registry import ConsensusRegistry
from supervm.state.keys import keccak256

VANITY, SEAL = 32, 65
ACCOUNTS = [dev_account(i) for i in range(4)]
ALICE, BOB, CAROL, MALLORY = ACCOUNTS
VALIDATORS = (ALICE.address, BOB.address, CAROL.address)
SETTINGS = ConsensusSettings(validators=VALIDATORS)


def _signing_hash(header: BlockHeader) -> bytes:
    return keccak256(encode_header(attrs.evolve(header, extra_data=header.extra_data[:-SEAL])))


def signer_of(header: BlockHeader) -> bytes:
    """The address whose key sealed ``header``."""
    if len(header.extra_data) != VANITY + SEAL:
        raise ConsensusError(
            f"block {header.number}: extra data must be {VANITY} bytes of vanity and a "
            f"{SEAL}-byte seal, got {len(header.extra_data)} bytes"
        )
    signature = header.extra_data[-SEAL:]
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature, _signing_hash(header), hasher=None
        )
    except ValueError as exc:
        raise ConsensusError(f"block {header.number}: invalid seal ({exc})") from None
    return keccak256(public.format(compressed=False)[1:])[-20:]


class MiniClique(ConsensusEngine):
    def __init__(self, settings: ConsensusSettings) -> None:
        if not settings.validators:
            raise SuperVMError("mini_clique consensus needs at least one validator")
        self.validators = settings.validators
        signer = settings.options.get("signer")
        #: This node's validator address, if it seals blocks.
        self.signer = bytes.fromhex(signer) if signer else None

    def proposer(self, number: int, parent: BlockHeader, *, chain: HeaderReader) -> bytes:
        return self.validators[number % len(self.validators)]

    def _difficulty(self, signer: bytes | None, number: int, parent: BlockHeader) -> int:
        return 2 if signer == self.proposer(number, parent, chain=_NO_CHAIN) else 1

    def prepare(
        self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader
    ) -> BlockHeader:
        vanity = header.extra_data[:VANITY].ljust(VANITY, b"\0")
        return attrs.evolve(
            header,
            difficulty=self._difficulty(self.signer, header.number, parent),
            extra_data=vanity + bytes(SEAL),
            mix_hash=bytes(32),
        )

    def seal(self, header: BlockHeader, key: bytes) -> BlockHeader:
        signature = coincurve.PrivateKey(key).sign_recoverable(_signing_hash(header), hasher=None)
        return attrs.evolve(header, extra_data=header.extra_data[:-SEAL] + signature)

    def verify_seal(self, header: BlockHeader, parent: BlockHeader, *, chain: HeaderReader) -> None:
        number = header.number
        signer = signer_of(header)
        if signer not in self.validators:
            raise ConsensusError(f"block {number}: sealed by 0x{signer.hex()}, not a validator")
        expected = self._difficulty(signer, number, parent)
        if header.difficulty != expected:
            turn = "in turn" if expected == 2 else "out of turn"
            raise ConsensusError(
                f"block {number}: difficulty {header.difficulty}, expected {expected} "
                f"(0x{signer.hex()} is {turn})"
            )
        # The recency rule needs history: walk back through the chain.
        ancestor: BlockHeader | None = parent
        for _ in range(len(self.validators) // 2):
            if ancestor is None or ancestor.number == 0:
                break
            if signer_of(ancestor) == signer:
                raise ConsensusError(
                    f"block {number}: 0x{signer.hex()} sealed block {ancestor.number} too recently"
                )
            ancestor = chain.header(ancestor.parent_hash)

    def _total_difficulty(self, header: BlockHeader, chain: HeaderReader) -> int:
        total, current = 0, header
        while current.number > 0:
            total += current.difficulty
            parent = chain.header(current.parent_hash)
            assert parent is not None
            current = parent
        return total

    def fork_choice(self, a: BlockHeader, b: BlockHeader, *, chain: HeaderReader) -> BlockHeader:
        ta, tb = self._total_difficulty(a, chain), self._total_difficulty(b, chain)
        if ta != tb:
            return a if ta > tb else b
        return b if b.hash < a.hash else a

    def is_final(self, header: BlockHeader, head: BlockHeader, *, chain: HeaderReader) -> bool:
        majority = len(self.validators) // 2 + 1
        return head.number - header.number >= majority and is_ancestor(header, head, chain)


class _NoChain:
    def header(self, block_hash: bytes) -> BlockHeader | None:
        return None


_NO_CHAIN = _NoChain()


class Headers(dict[bytes, BlockHeader]):
    """An in-memory chain of headers: a HeaderReader."""

    def header(self, block_hash: bytes) -> BlockHeader | None:
        return self.get(block_hash)

    def add(self, header: BlockHeader) -> BlockHeader:
        self[header.hash] = header
        return header


class MiniCliquePlugin:
    @hookimpl
    def supervm_register_consensus(self, registry: ConsensusRegistry) -> None:
        registry.add_consensus("mini_clique", MiniClique)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(
        discover=False, env={}, extra=[("mini_clique_plugin", MiniCliquePlugin())]
    ) as kernel:
        yield kernel


GENESIS = BlockHeader(
    parent_hash=bytes(32), coinbase=bytes(20), state_root=bytes(32), number=0,
    gas_limit=30_000_000, timestamp=1_700_000_000, extra_data=bytes(VANITY + SEAL),
)  # fmt: skip


def engine_for(kernel: Kernel, account: object = None) -> ConsensusEngine:
    options = {"signer": account.address.hex()} if account is not None else {}  # type: ignore[attr-defined]
    return kernel.consensus("mini_clique", attrs.evolve(SETTINGS, options=options))


def child(parent: BlockHeader, **fields: object) -> BlockHeader:
    values: dict[str, object] = {
        "parent_hash": parent.hash,
        "coinbase": bytes(20),
        "state_root": bytes(32),
        "number": parent.number + 1,
        "gas_limit": parent.gas_limit,
        "timestamp": parent.timestamp + 5,
    }
    values.update(fields)
    return BlockHeader(**values)  # type: ignore[arg-type]


def build(kernel: Kernel, chain: Headers, parent: BlockHeader, account: object) -> BlockHeader:
    """What a validator's block producer does: prepare, (execute,) seal."""
    engine = engine_for(kernel, account)
    prepared = engine.prepare(child(parent, extra_data=b"supervm"), parent, chain=chain)
    return chain.add(engine.seal(prepared, account.private_key))  # type: ignore[attr-defined]


def in_turn_chain(kernel: Kernel, length: int) -> tuple[Headers, list[BlockHeader]]:
    chain = Headers()
    headers = [chain.add(GENESIS)]
    for number in range(1, length + 1):
        signer = ACCOUNTS[number % 3]
        headers.append(build(kernel, chain, headers[-1], signer))
    return chain, headers


# -- registration ---------------------------------------------------------------------------------


def test_engine_is_registered_under_its_name(kernel: Kernel) -> None:
    assert kernel.consensus_engines.names() == ["mini_clique"]
    entry = kernel.consensus_engines.entry("mini_clique")
    assert entry.plugin == "mini_clique_plugin"
    assert entry.value is MiniClique
    info = {i.name: i for i in kernel.plugins.infos()}["mini_clique_plugin"]
    assert info.hooks == ("supervm_register_consensus",)


def test_consensus_without_a_name_uses_the_only_engine(kernel: Kernel) -> None:
    # "dev" is the built-in default name; with a single engine registered, that one is used.
    assert kernel.default_name("consensus") == "mini_clique"
    assert isinstance(kernel.consensus(settings=SETTINGS), MiniClique)


def test_each_call_builds_a_new_engine_from_its_settings(kernel: Kernel) -> None:
    first = kernel.consensus("mini_clique", SETTINGS)
    second = kernel.consensus("mini_clique", ConsensusSettings(validators=(CAROL.address,)))
    assert first is not second
    assert second.proposer(5, GENESIS, chain=Headers()) == CAROL.address


def test_factory_errors_reach_the_caller(kernel: Kernel) -> None:
    with pytest.raises(SuperVMError, match="needs at least one validator"):
        kernel.consensus("mini_clique")  # default settings: no validators


def test_unknown_engine_lists_the_registered_ones(kernel: Kernel) -> None:
    with pytest.raises(UnknownImplementationError, match=r"available: mini_clique\)"):
        kernel.consensus("pow", SETTINGS)


def test_consensus_error_is_a_supervm_error() -> None:
    assert issubclass(ConsensusError, SuperVMError)


# -- the interface, implemented completely --------------------------------------------------------


def test_validators_take_turns(kernel: Kernel) -> None:
    engine = kernel.consensus("mini_clique", SETTINGS)
    assert [engine.proposer(n, GENESIS, chain=Headers()) for n in range(7)] == [
        ALICE.address, BOB.address, CAROL.address, ALICE.address, BOB.address, CAROL.address,
        ALICE.address,
    ]  # fmt: skip


def test_prepare_fills_the_engine_fields(kernel: Kernel) -> None:
    draft = child(GENESIS, extra_data=b"supervm", mix_hash=bytes([7]) * 32)
    prepared = engine_for(kernel, BOB).prepare(draft, GENESIS, chain=Headers())  # 1 % 3: Bob's
    assert prepared.difficulty == 2
    assert prepared.extra_data == b"supervm".ljust(VANITY, b"\0") + bytes(SEAL)
    assert prepared.mix_hash == bytes(32)
    out_of_turn = engine_for(kernel, CAROL).prepare(draft, GENESIS, chain=Headers())
    assert out_of_turn.difficulty == 1


def test_seal_signs_and_verify_seal_accepts_a_chain(kernel: Kernel) -> None:
    chain, headers = in_turn_chain(kernel, 6)
    verifier = kernel.consensus("mini_clique", SETTINGS)  # a node that does not seal
    for parent, header in itertools.pairwise(headers):
        assert signer_of(header) == VALIDATORS[header.number % 3]
        verifier.verify_seal(header, parent, chain=chain)


def test_verify_seal_refuses_a_stranger(kernel: Kernel) -> None:
    chain = Headers({GENESIS.hash: GENESIS})
    header = build(kernel, chain, GENESIS, MALLORY)
    with pytest.raises(ConsensusError, match=f"block 1: sealed by 0x{MALLORY.address.hex()}, not"):
        kernel.consensus("mini_clique", SETTINGS).verify_seal(header, GENESIS, chain=chain)


def test_verify_seal_refuses_a_wrong_difficulty(kernel: Kernel) -> None:
    chain = Headers({GENESIS.hash: GENESIS})
    engine = engine_for(kernel, CAROL)
    prepared = engine.prepare(child(GENESIS), GENESIS, chain=chain)
    forged = engine.seal(attrs.evolve(prepared, difficulty=2), CAROL.private_key)
    with pytest.raises(ConsensusError, match=r"block 1: difficulty 2, expected 1 .* out of turn"):
        engine.verify_seal(forged, GENESIS, chain=chain)


def test_verify_seal_refuses_a_tampered_header(kernel: Kernel) -> None:
    chain, headers = in_turn_chain(kernel, 1)
    tampered = attrs.evolve(headers[1], gas_limit=1)  # the seal no longer matches
    with pytest.raises(ConsensusError, match=r"block 1: sealed by 0x.*not a validator"):
        engine_for(kernel).verify_seal(tampered, GENESIS, chain=chain)
    with pytest.raises(ConsensusError, match="extra data must be 32 bytes of vanity"):
        engine_for(kernel).verify_seal(
            attrs.evolve(headers[1], extra_data=b""), GENESIS, chain=chain
        )


def test_verify_seal_reads_history_for_the_recency_rule(kernel: Kernel) -> None:
    chain, headers = in_turn_chain(kernel, 2)  # block 1 by Bob, block 2 by Carol
    again = build(kernel, chain, headers[2], CAROL)  # Carol twice in a row
    with pytest.raises(ConsensusError, match="sealed block 2 too recently"):
        engine_for(kernel).verify_seal(again, headers[2], chain=chain)
    engine_for(kernel).verify_seal(build(kernel, chain, headers[2], BOB), headers[2], chain=chain)


def test_fork_choice_prefers_the_heavier_chain(kernel: Kernel) -> None:
    chain, headers = in_turn_chain(kernel, 2)
    engine = engine_for(kernel)
    # A sibling of block 2 sealed out of turn by Alice: same height, lighter.
    sibling = build(kernel, chain, headers[1], ALICE)
    assert sibling.difficulty == 1 and headers[2].difficulty == 2
    assert engine.fork_choice(sibling, headers[2], chain=chain) is headers[2]
    assert engine.fork_choice(headers[2], sibling, chain=chain) is headers[2]
    assert engine.fork_choice(headers[2], headers[2], chain=chain) is headers[2]


def test_finality_needs_a_majority_on_top(kernel: Kernel) -> None:
    chain, headers = in_turn_chain(kernel, 4)
    engine, head = engine_for(kernel), headers[4]
    assert [engine.is_final(h, head, chain=chain) for h in headers] == [
        True, True, True, False, False,
    ]  # fmt: skip
    sibling = build(kernel, chain, headers[1], ALICE)
    assert not engine.is_final(sibling, head, chain=chain)  # not on the head's chain


def test_the_default_sealing_slot_is_now_and_after_the_parent() -> None:
    engine = MiniClique(ConsensusSettings(validators=(dev_account(0).address,)))
    parent = BlockHeader(
        parent_hash=bytes(32),
        coinbase=bytes(20),
        state_root=bytes(32),
        gas_limit=30_000_000,
        number=4,
        timestamp=1_000,
    )
    slot = engine.sealing_slot(dev_account(0).address, parent, chain=_NoChain(), now=2_000.7)
    assert (slot.timestamp, slot.delay) == (2_000, 0.0)
    behind = engine.sealing_slot(dev_account(0).address, parent, chain=_NoChain(), now=10.0)
    assert behind.timestamp == 1_001  # never at or before the parent's time
