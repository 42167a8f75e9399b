"""One contract calling another, whatever engine either runs on.

A WASM contract's ``call_contract`` host function and an EVM contract's ``CALL`` to a WASM
contract both end here: :func:`call_contract` runs a message the way Ethereum runs a call frame
(depth limit, static calls move no value, the value moves before the code runs, the callee's
changes are dropped if it fails) and finds the callee's engine by its code, so neither engine
knows the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs

from supervm.errors import CallError, ModuleError, UnknownImplementationError
from supervm.model import ErrorKind, ExecutionContext, ExecutionError, ExecutionResult
from supervm.state.keys import code_hash_key
from supervm.state.world import InsufficientBalanceError, WorldState

if TYPE_CHECKING:
    from supervm.execution.dispatch import Dispatcher

#: Ethereum's call depth limit: a call at this depth fails without running.
MAX_CALL_DEPTH: Final = 1024
#: The export a call to a WASM contract runs (as a transaction's call does).
CALL_ENTRY: Final = "call"


def call_contract(
    dispatcher: Dispatcher,
    state: WorldState,
    frame: ExecutionContext,
    input: bytes,
    *,
    code_address: bytes | None = None,
    transfer: bool = True,
) -> ExecutionResult:
    """Run the message ``frame`` describes: ``frame.caller`` calls ``frame.address``.

    The value moves from caller to callee first (unless ``transfer`` is false: a delegate
    call only shows its caller's value), then the code at ``code_address`` (default: the
    callee's own) runs on the callee's storage with ``frame.gas_limit`` gas. An account without
    code is a plain value transfer, unless a backend runs a precompiled contract there. The
    whole call runs in one snapshot of ``state``: kept if it succeeds, dropped if it fails.
    Failures never raise; they come back in the result's ``error`` with the gas spent (all of
    it, except for a revert, which reports what it used).

    :param dispatcher: finds the callee's engine by its code.
    :param state: the state the call runs on.
    :param frame: the callee's context: caller, address, value, gas, static, depth.
    :param input: the calldata.
    :param code_address: where the code comes from, if not ``frame.address`` (delegate calls).
    :param transfer: whether ``frame.value`` moves from the caller to the callee.
    """
    if frame.depth > MAX_CALL_DEPTH:
        return _fail(ErrorKind.INVALID_CALL, f"call depth above {MAX_CALL_DEPTH}", 0)
    if frame.static and frame.value and transfer:
        return _fail(ErrorKind.INVALID_CALL, "a static call cannot transfer value", 0)
    state.snapshot()
    try:
        result = _run(dispatcher, state, frame, input, code_address, transfer)
    except BaseException:
        state.rollback_snapshot()
        raise
    if result.error is None:
        state.commit_snapshot()
    else:
        state.rollback_snapshot()
    return result


def _run(
    dispatcher: Dispatcher,
    state: WorldState,
    frame: ExecutionContext,
    input: bytes,
    code_address: bytes | None,
    transfer: bool,
) -> ExecutionResult:
    if transfer and frame.value:
        try:
            state.transfer(frame.caller, frame.address, frame.value)
        except InsufficientBalanceError as exc:
            return _fail(ErrorKind.INVALID_CALL, str(exc), 0)
    source = frame.address if code_address is None else code_address
    code_hash = state.get(code_hash_key(source))
    try:
        if code_hash is None:
            backend = dispatcher.backend_for_precompile(source)
            if backend is None:
                return ExecutionResult()  # a plain value transfer
            # A precompile is known by its address, so a delegate call to one names it in the
            # frame; its output depends on the input alone, as in Ethereum's DELEGATECALL.
            at = frame if source == frame.address else attrs.evolve(frame, address=source)
            return backend.execute(b"", state, at, entry=CALL_ENTRY, input=input)
        code = state.code_by_hash(code_hash) or b""
        backend = dispatcher.backend_for(code)
        return backend.execute(code, state, frame, entry=CALL_ENTRY, input=input)
    except (ModuleError, CallError, UnknownImplementationError) as exc:
        kind = ErrorKind.INVALID_MODULE if isinstance(exc, ModuleError) else ErrorKind.INVALID_CALL
        return _fail(kind, str(exc), frame.gas_limit)


def _fail(kind: ErrorKind, message: str, gas: int) -> ExecutionResult:
    return ExecutionResult(gas_used=gas, error=ExecutionError(kind, message))


__all__ = ["CALL_ENTRY", "MAX_CALL_DEPTH", "call_contract"]
