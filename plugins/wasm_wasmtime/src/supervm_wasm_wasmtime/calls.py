"""Host functions for contracts calling contracts: call, static call, delegate call, return data.

A call goes through the kernel's :func:`supervm.execution.calls.call_contract` with the
dispatcher the backend was bound to, so the callee may be a WASM contract, an EVM contract or a
precompile, and the message rules (depth limit, value first, one snapshot per call, rollback on
failure) are the kernel's. This module adds what belongs to the calling contract: Ethereum's
gas rules for a call (base price, value transfer, new account, EIP-150's 63/64 cap, stipend),
the static-call checks, and the return data buffer. Prices are in :data:`GAS` and documented in
``docs/host-abi.md`` ("Calls").
"""

from __future__ import annotations

import functools
from typing import Final

from supervm import ExecutionContext, ExecutionResult, HostFunction, HostTrap
from supervm.execution.calls import call_contract as kernel_call_contract
from supervm.state.world import WorldState

from .abi import COPY_BYTE_GAS, host_function, static_violation
from .frame import Frame

#: Base gas of each host function, charged before it runs.
GAS: Final = {
    # EIP-150's flat price of a call (WASM storage has no EIP-2929 warm/cold distinction).
    "call_contract": 700,
    "call_static": 700,
    "call_delegate": 700,
    "return_data_len": 2,
    "read_return_data": 3,
}
#: Extra gas of a call that moves value (EVM's ``CallValueTransfer``).
VALUE_TRANSFER_GAS: Final = 9000
#: Extra gas of a call that moves value to an empty account (EIP-161's ``CallNewAccount``).
NEW_ACCOUNT_GAS: Final = 25000
#: Gas given to the callee free of charge when value moves (EVM's ``CallStipend``).
CALL_STIPEND: Final = 2300
ADDRESS_SIZE: Final = 20
VALUE_SIZE: Final = 32


def _callee_gas(frame: Frame, requested: int) -> int:
    """At most all but one 64th of the caller's gas left, as EIP-150 caps a call's gas."""
    left = frame.gas_left()
    return min(requested, left - left // 64)


def _message(
    frame: Frame,
    addr_ptr: int,
    input_ptr: int,
    input_len: int,
    gas: int,
) -> tuple[bytes, bytes, WorldState]:
    """Check and read what every call takes: the target's address, the input, the state."""
    if gas < 0:
        raise HostTrap(f"gas must not be negative, got {gas}")
    if frame.dispatcher is None:
        raise HostTrap("contract calls need a kernel: this backend has no dispatcher bound")
    state = frame.state
    if not isinstance(state, WorldState):
        raise HostTrap(
            f"contract calls need the world state (accounts and code); this call runs on a "
            f"bare {type(state).__name__}"
        )
    address = frame.read(addr_ptr, ADDRESS_SIZE)
    # Read before charging, so that a length past memory is named as such, not as out of gas.
    data = frame.read(input_ptr, input_len)
    frame.charge(COPY_BYTE_GAS * input_len)
    return address, data, state


def _finish(frame: Frame, result: ExecutionResult, stipend: int) -> int:
    """Charge the callee's gas, keep its return data and (on success) its events and logs."""
    # The stipend was the callee's for free: what it used of it is not the caller's to pay.
    frame.charge(max(0, result.gas_used - stipend))
    frame.call_return = result.return_data
    if result.error is not None:
        return 1
    # A callee's events and logs come after the caller's earlier ones and before its later ones.
    frame.events.extend(result.events)
    frame.logs.extend(result.logs)
    return 0


def _context(
    frame: Frame,
    *,
    caller: bytes,
    address: bytes,
    value: int,
    static: bool,
    gas: int,
) -> ExecutionContext:
    outer = frame.context
    return ExecutionContext(
        outer.block_number,
        outer.timestamp,
        caller,
        address,
        gas,
        value,
        static,
        outer.depth + 1,
        outer.origin,
        outer.gas_price,
        outer.env,
    )


def call_contract(
    frame: Frame, addr_ptr: int, input_ptr: int, input_len: int, value_ptr: int, gas: int
) -> int:
    address, data, state = _message(frame, addr_ptr, input_ptr, input_len, gas)
    value = int.from_bytes(frame.read(value_ptr, VALUE_SIZE), "big")
    stipend = 0
    if value:
        if frame.static:
            raise static_violation()
        frame.charge(VALUE_TRANSFER_GAS)
        if state.is_empty(address):
            frame.charge(NEW_ACCOUNT_GAS)
        stipend = CALL_STIPEND
    callee_gas = _callee_gas(frame, gas) + stipend
    context = _context(
        frame,
        caller=frame.context.address,
        address=address,
        value=value,
        static=frame.static,
        gas=callee_gas,
    )
    result = kernel_call_contract(frame.dispatcher, state, context, data)  # type: ignore[arg-type]
    return _finish(frame, result, stipend)


def call_static(frame: Frame, addr_ptr: int, input_ptr: int, input_len: int, gas: int) -> int:
    address, data, state = _message(frame, addr_ptr, input_ptr, input_len, gas)
    context = _context(
        frame,
        caller=frame.context.address,
        address=address,
        value=0,
        static=True,
        gas=_callee_gas(frame, gas),
    )
    result = kernel_call_contract(frame.dispatcher, state, context, data)  # type: ignore[arg-type]
    return _finish(frame, result, 0)


def call_delegate(frame: Frame, addr_ptr: int, input_ptr: int, input_len: int, gas: int) -> int:
    address, data, state = _message(frame, addr_ptr, input_ptr, input_len, gas)
    outer = frame.context
    # The callee's code runs as the caller: its storage, its caller, its value (not moved again).
    context = _context(
        frame,
        caller=outer.caller,
        address=outer.address,
        value=outer.value,
        static=frame.static,
        gas=_callee_gas(frame, gas),
    )
    result = kernel_call_contract(
        frame.dispatcher,  # type: ignore[arg-type]
        state,
        context,
        data,
        code_address=address,
        transfer=False,
    )
    return _finish(frame, result, 0)


def return_data_len(frame: Frame) -> int:
    return len(frame.call_return)


def read_return_data(frame: Frame, ptr: int) -> None:
    data = frame.call_return
    frame.charge(COPY_BYTE_GAS * len(data))
    frame.write(ptr, data)


_fn = functools.partial(host_function, gas=GAS)


def call_functions() -> list[HostFunction]:
    """The host functions for calls between contracts, in documentation order."""
    return [
        _fn("call_contract", "i32 i32 i32 i32 i64", "i32", call_contract,
            "Call a contract with value; 0 if it succeeded, 1 if it reverted or failed."),
        _fn("call_static", "i32 i32 i32 i64", "i32", call_static,
            "Call a contract that may not change state; 0 success, 1 failure."),
        _fn("call_delegate", "i32 i32 i32 i64", "i32", call_delegate,
            "Run a contract's code on this contract's storage and context; 0 or 1."),
        _fn("return_data_len", "", "i32", return_data_len,
            "Length of the last call's return or revert data."),
        _fn("read_return_data", "i32", "", read_return_data,
            "Copy the last call's return or revert data to ptr."),
    ]  # fmt: skip
