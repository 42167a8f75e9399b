"""The py-evm backend: EVM contracts on py-evm's Cancun rules, in the one world state.

:class:`PyEvmBackend` is an execution backend (it runs EVM code a WASM contract calls, and
Ethereum's precompiles) and a :class:`~supervm.chain.processor.TransactionEngine` (it applies
whole Ethereum transactions). It reads and writes the kernel's ``WorldState`` directly
(:mod:`~supervm_evm_revm_bridge.pyevm_state`), so there is nothing to load or write back, and
its read and write sets are the world state's. Calls into WebAssembly contracts go through the
kernel (:mod:`~supervm_evm_revm_bridge.pyevm_crossvm`), so it is the backend that runs any
transaction which crosses between EVM and WASM code.

py-evm interprets EVM code in Python (DESIGN.md measured its full transaction rules at 1.8k
transfers a second against pyrevm's 70k message calls): it is the reference engine, the
differential oracle for revm, and the engine of cross-VM transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eth.exceptions import VMError
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message
from eth_typing import Address
from supervm.chain.genesis import DEV_CHAIN_ID
from supervm.chain.processor import TransactionResult
from supervm.chain.transactions import UnsignedTransaction, effective_gas_price, fee_cap
from supervm.errors import CallError, ModuleError
from supervm.execution.host import HostFunction
from supervm.execution.interfaces import ExecutionBackend, VMSettings
from supervm.model import (
    ZERO_ADDRESS,
    BlockEnv,
    ErrorKind,
    ExecutionContext,
    ExecutionError,
    ExecutionResult,
)
from supervm.state.overlay import StateOverlay
from supervm.state.world import WorldState

from .pyevm_crossvm import WASM_MAGIC, CrossVmComputation, collect_events
from .pyevm_results import execution_error, logs_of
from .pyevm_state import TransactionFrame, WorldStateEvm
from .pyevm_transaction import EvmTransaction, WorldTransactionExecutor

if TYPE_CHECKING:
    from supervm.execution.dispatch import Dispatcher

#: Ethereum's precompiled contracts under Cancun: ecrecover (0x01) to point evaluation (0x0a).
PRECOMPILES = frozenset(CrossVmComputation.get_precompiles())
#: The one entry point EVM code has: a message call with the calldata as input.
CALL_ENTRY = "call"


class PyEvmBackend(ExecutionBackend):
    """EVM bytecode on py-evm 0.12 (Cancun), reading and writing the world state in place.

    :param settings: the VM settings (``max_code_size`` bounds accepted code; option
        ``chain_id`` is the ``CHAINID`` of calls made outside a block).
    :param host_functions: the host functions of the enabled plugins (EVM code calls none).
    """

    name = "pyevm"

    def __init__(self, settings: VMSettings, host_functions: Sequence[HostFunction] = ()) -> None:
        self.settings = settings
        self._dispatcher: Dispatcher | None = None
        # The transactions in progress, innermost last: a WASM contract calling back into EVM
        # code joins the frame of the transaction it runs in (see TransactionFrame).
        self._frames: list[TransactionFrame] = []
        self._code_analysis: dict[bytes, tuple[set[int], set[int]]] = {}

    # -- what the backend runs -------------------------------------------------------------

    def accepts(self, code: bytes) -> bool:
        """Any code that is not a WebAssembly module is EVM bytecode."""
        return bool(code) and code[:4] != WASM_MAGIC

    def validate(self, code: bytes) -> None:
        """EVM bytecode is any byte string (bad opcodes fail when reached); only its size is
        bounded."""
        if len(code) > self.settings.max_code_size:
            raise ModuleError(
                f"EVM code of {len(code)} bytes exceeds the limit of {self.settings.max_code_size}"
            )

    def exports(self, code: bytes) -> frozenset[str]:
        """EVM code has one entry point, a message call (``call``)."""
        self.validate(code)
        return frozenset({CALL_ENTRY})

    def precompiles(self) -> frozenset[bytes]:
        """Ethereum's Cancun precompiles, 0x01 to 0x0a."""
        return PRECOMPILES

    def bind_dispatcher(self, dispatcher: Dispatcher) -> None:
        """Keep the dispatcher: a call from EVM code to a WASM contract goes through it."""
        self._dispatcher = dispatcher

    # -- whole transactions ------------------------------------------------------------------

    def apply_transaction(
        self,
        tx: UnsignedTransaction,
        sender: bytes,
        state: WorldState,
        env: BlockEnv,
        *,
        simulate: bool = False,
    ) -> TransactionResult:
        """Apply ``tx`` from ``sender`` by py-evm's Cancun rules (see
        :class:`~supervm.chain.processor.TransactionEngine`)."""
        frame = TransactionFrame(state, env, self._dispatcher, simulate, self._code_analysis)
        executor = WorldTransactionExecutor(WorldStateEvm(frame))
        evm_tx = EvmTransaction(tx, sender)
        # The whole transaction in one snapshot, so that a transaction py-evm refuses after
        # buying its gas (below) leaves nothing behind.
        state.snapshot()
        depth = state.depth
        self._frames.append(frame)
        try:
            computation = executor(evm_tx)
        except VMError as exc:
            # py-evm checks a few things outside any computation (value above the balance,
            # init code above EIP-3860's limit): the transaction cannot be included. The
            # kernel's own checks make this unreachable in a block.
            _unwind(state, depth - 1)
            reason = str(exc) or type(exc).__name__
            return TransactionResult(
                error=ExecutionError(ErrorKind.INVALID_CALL, reason), rejected=reason
            )
        except BaseException:
            _unwind(state, depth - 1)
            raise
        finally:
            self._frames.pop()
        _close(state, depth)
        error = execution_error(computation)
        created = None
        if error is None and tx.to is None:
            created = bytes(computation.msg.storage_address)
        return TransactionResult(
            return_data=bytes(computation.output),
            events=collect_events(computation),
            logs=logs_of(computation),
            gas_used=executor.gas_used,
            error=error,
            contract_address=created,
            effective_gas_price=_price(tx, env.base_fee),
        )

    # -- message calls -------------------------------------------------------------------------

    def execute(
        self,
        code: bytes,
        state: StateOverlay,
        context: ExecutionContext,
        *,
        entry: str = "call",
        args: Sequence[int] = (),
        input: bytes = b"",
    ) -> ExecutionResult:
        """Run ``code`` as a message call to ``context.address`` (a call from a WASM contract).

        No intrinsic gas is charged and no value moves (the caller, ``call_contract``, moved
        ``context.value`` already; ``CALLVALUE`` still shows it). Empty ``code`` at a
        precompile's address runs the precompile. The call runs in a snapshot of ``state``:
        kept on success, rolled back on failure. Inside a transaction this backend is applying
        (EVM → WASM → EVM), it joins that transaction's frame; otherwise the message is a
        transaction of its own for warm accounts, transient storage and self-destructs, and
        its gas refunds are dropped (the kernel's WASM transactions have none).
        """
        if entry != CALL_ENTRY:
            raise CallError(f"EVM code has one entry point, {CALL_ENTRY!r}; got {entry!r}")
        if args:
            raise CallError("EVM code takes no integer arguments; pass the calldata as input")
        if not isinstance(state, WorldState):
            raise CallError("EVM code runs on a WorldState, not a bare StateOverlay")
        self.validate(code)
        outer = self._frames[-1] if self._frames and self._frames[-1].world is state else None
        frame = outer
        if frame is None:
            env = context.env or self._env(context)
            frame = TransactionFrame(state, env, self._dispatcher, False, self._code_analysis)
        evm_state = frame.evm_state or WorldStateEvm(frame)
        message = Message(
            gas=context.gas_limit,
            to=Address(context.address),
            sender=Address(context.caller),
            value=context.value,
            data=input,
            code=code,
            depth=context.depth,
            should_transfer_value=False,
            is_static=context.static,
        )
        transaction_context = CancunTransactionContext(
            gas_price=context.gas_price, origin=Address(context.origin), blob_versioned_hashes=()
        )
        evm_state.warm_up((context.caller, context.address))
        outer_reads, outer_writes = state.reads, state.writes
        state.reads, state.writes = set(), set()
        if outer is None:
            self._frames.append(frame)
        try:
            computation: Any = CrossVmComputation.apply_message(
                evm_state, message, transaction_context
            )
            if computation.is_success:
                deletions = computation.get_accounts_for_deletion()
                if outer is not None:
                    frame.pending_refund += computation.get_gas_refund()
                    frame.pending_deletions.extend(deletions)
                else:
                    for account in deletions:
                        evm_state.delete_account(account)
            reads, writes = frozenset(state.reads), frozenset(state.writes)
        finally:
            if outer is None:
                self._frames.pop()
            outer_reads |= state.reads
            outer_writes |= state.writes
            state.reads, state.writes = outer_reads, outer_writes
        return ExecutionResult(
            return_data=bytes(computation.output),
            events=collect_events(computation),
            logs=logs_of(computation),
            gas_used=computation.get_gas_used(),
            read_set=reads,
            write_set=writes,
            error=execution_error(computation),
        )

    def _env(self, context: ExecutionContext) -> BlockEnv:
        """The block a call made outside any block sees: its context's number and time."""
        chain_id = self.settings.options.get("chain_id", str(DEV_CHAIN_ID))
        try:
            chain = int(chain_id)
        except ValueError:
            raise CallError(f"VM option chain_id must be an integer, got {chain_id!r}") from None
        return BlockEnv(
            chain_id=chain,
            number=context.block_number,
            timestamp=context.timestamp,
            coinbase=ZERO_ADDRESS,
            gas_limit=max(context.gas_limit, 30_000_000),
        )


def _unwind(state: WorldState, depth: int) -> None:
    """Drop the snapshots an interrupted transaction left open."""
    while state.depth > depth:
        state.rollback_snapshot()


def _close(state: WorldState, depth: int) -> None:
    """Keep the transaction's snapshot (and any py-evm left open above it)."""
    while state.depth >= depth:
        state.commit_snapshot()


def _price(tx: UnsignedTransaction, base_fee: int) -> int:
    """The effective gas price; a simulation may run below the base fee, at its fee cap."""
    return effective_gas_price(tx, base_fee) if fee_cap(tx) >= base_fee else fee_cap(tx)


__all__ = ["PRECOMPILES", "PyEvmBackend"]
