"""A consensus engine contributed by an inline plugin through ``supervm_register_consensus``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from supervm import (
    BlockProposal,
    Call,
    ConsensusEngine,
    ConsensusSettings,
    Kernel,
    SuperVMError,
    UnknownImplementationError,
    hookimpl,
)
from supervm.plugins.registry import ConsensusRegistry

ALICE, BOB, CAROL = (bytes([n]) * 20 for n in (0xA1, 0xB0, 0xC0))


class RoundRobin(ConsensusEngine):
    """Validators take turns: block ``n`` is proposed by ``validators[n % len(validators)]``."""

    def __init__(self, settings: ConsensusSettings) -> None:
        if not settings.validators:
            raise SuperVMError("round_robin consensus needs at least one validator")
        self.validators = settings.validators

    def proposer(self, number: int) -> bytes:
        return self.validators[number % len(self.validators)]

    def validate(self, proposal: BlockProposal) -> None:
        expected = self.proposer(proposal.number)
        if proposal.proposer != expected:
            raise SuperVMError(
                f"block {proposal.number}: proposer {proposal.proposer.hex()} "
                f"is not the expected {expected.hex()}"
            )


class RoundRobinPlugin:
    @hookimpl
    def supervm_register_consensus(self, registry: ConsensusRegistry) -> None:
        registry.add_consensus("round_robin", RoundRobin)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(
        discover=False, env={}, extra=[("round_robin_plugin", RoundRobinPlugin())]
    ) as kernel:
        yield kernel


SETTINGS = ConsensusSettings(validators=(ALICE, BOB, CAROL))


def proposal(number: int, proposer: bytes) -> BlockProposal:
    return BlockProposal(number=number, timestamp=number * 10, proposer=proposer, calls=())


def test_engine_is_registered_under_its_name(kernel: Kernel) -> None:
    assert kernel.consensus_engines.names() == ["round_robin"]
    entry = kernel.consensus_engines.entry("round_robin")
    assert entry.plugin == "round_robin_plugin"
    assert entry.value is RoundRobin
    info = {i.name: i for i in kernel.plugins.infos()}["round_robin_plugin"]
    assert info.hooks == ("supervm_register_consensus",)


def test_round_robin_proposers(kernel: Kernel) -> None:
    engine = kernel.consensus("round_robin", SETTINGS)
    assert isinstance(engine, RoundRobin)
    assert [engine.proposer(n) for n in range(7)] == [ALICE, BOB, CAROL, ALICE, BOB, CAROL, ALICE]


def test_validate_accepts_the_expected_proposer(kernel: Kernel) -> None:
    engine = kernel.consensus("round_robin", SETTINGS)
    for number in range(1, 10):
        engine.validate(proposal(number, engine.proposer(number)))


def test_validate_rejects_a_wrong_proposer(kernel: Kernel) -> None:
    engine = kernel.consensus("round_robin", SETTINGS)
    with pytest.raises(SuperVMError, match=f"block 4: proposer {ALICE.hex()} is not"):
        engine.validate(proposal(4, ALICE))  # 4 % 3 == 1: Bob's turn
    with pytest.raises(SuperVMError, match=BOB.hex()):
        engine.validate(
            BlockProposal(number=4, timestamp=0, proposer=bytes(20), calls=(Call(b""),))
        )


def test_consensus_without_a_name_uses_the_only_engine(kernel: Kernel) -> None:
    # "poa" is the built-in default name; with a single engine registered, that one is used.
    assert kernel.default_name("consensus") == "round_robin"
    assert isinstance(kernel.consensus(settings=SETTINGS), RoundRobin)


def test_each_call_builds_a_new_engine_from_its_settings(kernel: Kernel) -> None:
    first = kernel.consensus("round_robin", SETTINGS)
    second = kernel.consensus("round_robin", ConsensusSettings(validators=(CAROL,)))
    assert first is not second
    assert second.proposer(5) == CAROL


def test_factory_errors_reach_the_caller(kernel: Kernel) -> None:
    with pytest.raises(SuperVMError, match="needs at least one validator"):
        kernel.consensus("round_robin")  # default settings: no validators


def test_unknown_engine_lists_the_registered_ones(kernel: Kernel) -> None:
    with pytest.raises(UnknownImplementationError, match=r"available: round_robin\)"):
        kernel.consensus("pow", SETTINGS)
