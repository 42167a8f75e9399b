"""The chain's hooks: transaction admission, before and after a block, and the wrapper around a
block's execution."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any

import pytest
from supervm import AdmissionContext, Kernel, PluginError, Rejection, WorldState, hookimpl
from supervm.chain.blocks import Block, BlockHeader
from supervm.chain.processor import BlockEnv
from supervm.chain.receipts import Receipt
from supervm.chain.transactions import Transaction, UnsignedTransaction, sign_transaction
from supervm.services.admission import admit
from supervm_storage_memory import MemoryStorage

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
SENDER = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
DENIED = bytes([0xDE]) * 20


def kernel_of(*plugins: tuple[str, object]) -> Kernel:
    return Kernel.from_plugins(discover=False, env={}, extra=plugins)


def transfer(to: bytes = bytes([0xB0]) * 20, tip: int = 2, nonce: int = 0) -> Transaction:
    unsigned = UnsignedTransaction(
        type=2,
        chain_id=1337,
        nonce=nonce,
        max_priority_fee_per_gas=tip,
        max_fee_per_gas=100,
        gas=21_000,
        to=to,
        value=1,
    )
    return sign_transaction(unsigned, KEY)


@pytest.fixture
def admission() -> Iterator[AdmissionContext]:
    state = WorldState(MemoryStorage())
    env = BlockEnv(
        chain_id=1337, number=1, timestamp=1_700_000_000, coinbase=bytes(20), gas_limit=30_000_000
    )
    yield AdmissionContext(state=state, env=env, local=True)


def header(number: int = 1) -> BlockHeader:
    return BlockHeader(
        parent_hash=bytes(32),
        coinbase=bytes(20),
        state_root=bytes(32),
        number=number,
        gas_limit=30_000_000,
        timestamp=1_700_000_000 + number,
    )


# -- supervm_admit_transaction --------------------------------------------------------------------


class MinimumTip:
    def __init__(self, minimum: int) -> None:
        self.minimum, self.asked = minimum, 0

    @hookimpl
    def supervm_admit_transaction(
        self, transaction: Transaction, context: AdmissionContext
    ) -> Rejection | None:
        self.asked += 1
        tip = transaction.max_priority_fee_per_gas or 0
        if tip < self.minimum and not context.local:
            return Rejection(f"transaction underpriced: tip {tip} below {self.minimum}")
        return None


class DenyList:
    def __init__(self) -> None:
        self.asked = 0

    @hookimpl
    def supervm_admit_transaction(self, transaction: Transaction) -> Rejection | None:
        # An implementation may take a subset of the hook's parameters.
        self.asked += 1
        return Rejection("recipient not allowed") if transaction.to == DENIED else None


def test_without_a_refusal_the_transaction_is_admitted(admission: AdmissionContext) -> None:
    tip, deny = MinimumTip(1), DenyList()
    kernel = kernel_of(("tip", tip), ("deny", deny))
    assert admit(kernel.plugins, transfer(), admission) is None
    assert (tip.asked, deny.asked) == (1, 1)  # every plugin was asked
    assert admit(kernel_of().plugins, transfer(), admission) is None


def test_a_plugin_refuses_with_a_reason(admission: AdmissionContext) -> None:
    kernel = kernel_of(("tip", MinimumTip(5)))
    remote = AdmissionContext(admission.state, admission.env, local=False)
    assert admit(kernel.plugins, transfer(tip=2), remote) == Rejection(
        "transaction underpriced: tip 2 below 5"
    )
    assert admit(kernel.plugins, transfer(tip=2), admission) is None  # local: let through
    assert admit(kernel.plugins, transfer(tip=9), remote) is None


def test_the_first_refusal_wins_and_the_rest_are_not_asked(admission: AdmissionContext) -> None:
    tip, deny = MinimumTip(1000), DenyList()
    remote = AdmissionContext(admission.state, admission.env, local=False)
    # pluggy calls the last registered plugin first: "deny" here.
    kernel = kernel_of(("tip", tip), ("deny", deny))
    assert admit(kernel.plugins, transfer(to=DENIED), remote) == Rejection("recipient not allowed")
    assert (deny.asked, tip.asked) == (1, 0)


def test_a_result_that_is_not_a_rejection_is_a_plugin_error(admission: AdmissionContext) -> None:
    class Sloppy:
        @hookimpl
        def supervm_admit_transaction(self) -> object:
            return "no"

    with pytest.raises(PluginError, match="returned 'no': return a Rejection or None"):
        admit(kernel_of(("sloppy", Sloppy())).plugins, transfer(), admission)


def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        Rejection("  ")


# -- supervm_before_block and supervm_after_block -------------------------------------------------


class BlockHooks:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int, Any]] = []

    @hookimpl
    def supervm_before_block(self, header: BlockHeader, state: WorldState) -> None:
        # A system write that becomes part of the block's state transition.
        state.set_storage(bytes(20), bytes(32), header.number.to_bytes(32, "big"))
        self.seen.append(("before", header.number, state))

    @hookimpl
    def supervm_after_block(self, block: Block, receipts: Sequence[Receipt]) -> None:
        self.seen.append(("after", block.number, tuple(receipts)))


def test_before_block_sees_the_header_and_may_write_the_state() -> None:
    hooks = BlockHooks()
    kernel = kernel_of(("hooks", hooks))
    state = WorldState(MemoryStorage())
    kernel.plugins.manager.hook.supervm_before_block(header=header(7), state=state)
    assert hooks.seen == [("before", 7, state)]
    assert state.storage(bytes(20), bytes(32)) == (7).to_bytes(32, "big")


def test_after_block_sees_the_block_and_its_receipts() -> None:
    hooks = BlockHooks()
    kernel = kernel_of(("hooks", hooks))
    tx = transfer()
    block = Block(header(3), (tx,))
    receipts = (Receipt(tx_type=2, status=1, cumulative_gas_used=21_000),)
    kernel.plugins.manager.hook.supervm_after_block(block=block, receipts=receipts)
    assert hooks.seen == [("after", 3, receipts)]


# -- supervm_execute_block ------------------------------------------------------------------------


class Timer:
    """A metrics plugin timing every block's execution."""

    def __init__(self, log: list[str], name: str = "timer") -> None:
        self.log, self.name = log, name

    @hookimpl(wrapper=True)
    def supervm_execute_block(self, header: BlockHeader) -> Generator[None, Any, Any]:
        self.log.append(f"{self.name} enter {header.number}")
        try:
            executed = yield
        except Exception as exc:
            self.log.append(f"{self.name} saw {type(exc).__name__}")
            raise
        finally:
            self.log.append(f"{self.name} exit")
        return executed


def test_wrappers_run_around_the_kernels_execution() -> None:
    log: list[str] = []
    kernel = kernel_of(("first", Timer(log, "first")), ("second", Timer(log, "second")))
    executed = object()

    def execute() -> object:
        log.append("execute")
        return executed

    result = kernel.plugins.call_wrapped(
        "supervm_execute_block", execute, header=header(5), transactions=()
    )
    assert result is executed
    # The last registered wrapper is the outermost.
    assert log == ["second enter 5", "first enter 5", "execute", "first exit", "second exit"]


def test_without_wrappers_the_execution_runs_alone() -> None:
    result = kernel_of().plugins.call_wrapped(
        "supervm_execute_block", lambda: "done", header=header(), transactions=()
    )
    assert result == "done"


def test_an_execution_error_passes_through_the_wrappers() -> None:
    log: list[str] = []
    kernel = kernel_of(("timer", Timer(log)))

    def execute() -> object:
        raise MemoryError("out of memory")

    with pytest.raises(MemoryError, match="out of memory"):
        kernel.plugins.call_wrapped(
            "supervm_execute_block", execute, header=header(2), transactions=()
        )
    assert log == ["timer enter 2", "timer saw MemoryError", "timer exit"]


def test_a_plugin_may_not_execute_blocks_itself() -> None:
    class Usurper:
        @hookimpl
        def supervm_execute_block(self, header: BlockHeader) -> object:
            return "mine"

    kernel = kernel_of(("usurper", Usurper()))
    with pytest.raises(PluginError, match="'usurper' implements supervm_execute_block without"):
        kernel.plugins.call_wrapped(
            "supervm_execute_block", lambda: "kernel's", header=header(), transactions=()
        )
