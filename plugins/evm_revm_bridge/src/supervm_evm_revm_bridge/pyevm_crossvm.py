"""EVM code calling WASM contracts: py-evm's message path, extended to other engines.

Every ``CALL``, ``STATICCALL``, ``DELEGATECALL`` and ``CALLCODE`` (and a transaction's own call)
reaches py-evm's ``apply_message`` with the child message already priced: the 63/64 rule, the
value stipend, warm and cold access, the depth check. :class:`CrossVmComputation` looks at the
code the message runs; WebAssembly (``\\0asm``) goes to the kernel's
:func:`~supervm.execution.calls.call_contract` with the message's gas, value, static flag and
depth, which finds the engine by the code and runs the callee in a snapshot of the one world
state. The result comes back as a py-evm computation: its return data is the child's output
(``RETURNDATASIZE``/``RETURNDATACOPY`` see it), a revert keeps its data and returns the unused
gas, any other failure burns the child's gas, and the callee's logs join the caller's (dropped
with it if an enclosing frame fails).

A WASM callee may call back into EVM code (reentrancy): ``call_contract`` reaches
:meth:`~supervm_evm_revm_bridge.pyevm_backend.PyEvmBackend.execute`, which runs on the same
:class:`~supervm_evm_revm_bridge.pyevm_state.TransactionFrame`, so warm accounts, transient
storage and created contracts stay the transaction's. The refunds and self-destructs of those
inner EVM frames are handed to this computation if the WASM call succeeds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eth.exceptions import Revert, VMError
from eth.vm.forks.cancun.computation import CancunComputation
from supervm.execution.calls import call_contract
from supervm.model import ErrorKind, Event, ExecutionContext, ExecutionError

if TYPE_CHECKING:
    from eth.abc import ComputationAPI, MessageAPI, StateAPI, TransactionContextAPI

    from .pyevm_state import WorldStateEvm

WASM_MAGIC = b"\0asm"
#: How many codes' jump analyses a backend keeps.
CODE_ANALYSIS_ENTRIES = 1024


class WasmCallFailed(VMError):
    """A called WASM contract failed other than by reverting: like an exceptional halt, the
    call's gas is spent and its return data dropped.

    :param error: the callee's failure, as the kernel reported it.
    """

    def __init__(self, error: ExecutionError) -> None:
        super().__init__(str(error))
        self.failure = error


class CrossVmComputation(CancunComputation):
    """py-evm's Cancun computation whose calls to WebAssembly code run through the kernel."""

    #: The opaque events (``emit_event``) of a WASM callee, which EVM logs cannot carry.
    wasm_events: tuple[Event, ...] = ()

    def __init__(
        self, state: StateAPI, message: MessageAPI, transaction_context: TransactionContextAPI
    ) -> None:
        super().__init__(state, message, transaction_context)
        # Which code positions are valid jump targets depends on the code alone: share
        # py-evm's lazily filled answers between every run of the same code.
        analysis = state.frame.code_analysis  # type: ignore[attr-defined]
        known = analysis.get(message.code)
        if known is None:
            if len(analysis) >= CODE_ANALYSIS_ENTRIES:
                analysis.clear()
            known = analysis[message.code] = (set(), set())
        code: Any = self.code
        code.valid_positions, code.invalid_positions = known

    @classmethod
    def apply_message(
        cls,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
        parent_computation: ComputationAPI | None = None,
    ) -> ComputationAPI:
        # A create's code is init code, which the EVM runs whatever its first bytes.
        if message.code[:4] == WASM_MAGIC and not message.is_create:
            return cls._apply_wasm_message(state, message, transaction_context)
        return super().apply_message(
            state, message, transaction_context, parent_computation=parent_computation
        )

    @classmethod
    def apply_computation(
        cls,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
        parent_computation: ComputationAPI | None = None,
    ) -> ComputationAPI:
        if parent_computation is None:
            # py-evm keeps a transaction's created contracts (EIP-6780) in a class-level list
            # unless a parent hands one down: the frame's list is the transaction's.
            parent_computation = state.frame.lineage  # type: ignore[attr-defined]
        return super().apply_computation(
            state, message, transaction_context, parent_computation=parent_computation
        )

    @classmethod
    def _apply_wasm_message(
        cls, state: StateAPI, message: MessageAPI, transaction_context: TransactionContextAPI
    ) -> ComputationAPI:
        world_state: WorldStateEvm = state  # type: ignore[assignment]
        frame = world_state.frame
        computation: Any = cls(state, message, transaction_context)
        dispatcher = frame.dispatcher
        if dispatcher is None:
            failure = ExecutionError(
                ErrorKind.INVALID_CALL,
                f"cannot call the WASM contract at 0x{bytes(message.code_address).hex()}: "
                "this EVM backend was built without the kernel's dispatcher",
            )
            _fail(computation, WasmCallFailed(failure))
            return computation  # type: ignore[no-any-return]
        env = frame.env
        callee = ExecutionContext(
            block_number=env.number,
            timestamp=env.timestamp,
            caller=bytes(message.sender),
            address=bytes(message.storage_address),
            gas_limit=message.gas,
            value=message.value,
            static=message.is_static,
            depth=message.depth,
            origin=bytes(transaction_context.origin),
            gas_price=transaction_context.gas_price,
            env=env,
        )
        code_address = message.code_address
        refund_before = frame.pending_refund
        deletions_before = len(frame.pending_deletions)
        # Transient storage and warm accounts the WASM callee's own EVM callees change are
        # journaled by this state, not by call_contract's snapshot: bracket the call.
        snapshot = state.snapshot()
        try:
            result = call_contract(
                dispatcher,
                frame.world,
                callee,
                bytes(message.data),
                code_address=None if code_address == message.storage_address else code_address,
                transfer=message.should_transfer_value,
            )
        except BaseException:
            state.revert(snapshot)
            raise
        refund = frame.pending_refund - refund_before
        deletions = frame.pending_deletions[deletions_before:]
        frame.pending_refund = refund_before
        del frame.pending_deletions[deletions_before:]
        gas_used = min(result.gas_used, message.gas)
        error = result.error
        if error is None:
            state.commit(snapshot)
            computation.consume_gas(gas_used, reason="WASM callee")
            computation.output = result.return_data
            if refund:
                computation.refund_gas(refund)
            for address in deletions:
                if address not in computation.accounts_to_delete:
                    computation.accounts_to_delete.append(address)
            next_log = transaction_context.get_next_log_counter
            for log in result.logs:
                topics = tuple(int.from_bytes(topic, "big") for topic in log.topics)
                computation._log_entries.append((next_log(), log.address, topics, log.data))
            computation.wasm_events = result.events
            return computation  # type: ignore[no-any-return]
        state.revert(snapshot)
        if error.kind is ErrorKind.REVERT:
            computation.consume_gas(gas_used, reason="WASM callee reverted")
            computation.output = result.return_data
            computation.error = Revert(result.return_data)
        else:
            _fail(computation, WasmCallFailed(error))
        return computation  # type: ignore[no-any-return]


def _fail(computation: Any, error: VMError) -> None:
    """End ``computation`` with ``error``, spending its gas (as py-evm does for a VM error)."""
    computation.error = error
    gas_meter = computation.get_gas_meter()
    gas_meter.consume_gas(gas_meter.gas_remaining, reason=str(error))


def collect_events(computation: ComputationAPI) -> tuple[Event, ...]:
    """The WASM events of ``computation``'s successful frames, in call order."""
    if computation.is_error:
        return ()
    events: list[Event] = list(getattr(computation, "wasm_events", ()))
    for child in computation.children:
        events.extend(collect_events(child))
    return tuple(events)


__all__ = ["WASM_MAGIC", "CrossVmComputation", "WasmCallFailed", "collect_events"]
