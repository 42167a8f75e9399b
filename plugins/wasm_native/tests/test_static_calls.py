"""A static call may not change state on the native path either: the C host functions do not
check ``ExecutionContext.static``, so the native backend hands static calls to the Python path,
whose host functions refuse writes. With ``--plugin wasm_native`` the dispatcher asks the native
backend first, so a native-capable callee of ``call_static`` does reach it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import wasmtime
from supervm import ErrorKind, ExecutionContext, Kernel, VMSettings, WorldState
from supervm.execution.calls import call_contract
from supervm_wasm_native import NativeWasmBackend

WRITER = bytes.fromhex("00" * 19 + "c1")
PROXY = bytes.fromhex("00" * 19 + "c2")
EOA = bytes.fromhex("ee" * 20)

#: Writes "k" = "v": only host functions the native core implements in C.
WRITER_WAT = """(module
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "kv")
  (func (export "call")
    (drop (call $set (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 1)))))"""

#: Static-calls the address in its input; returns the call's status byte.
PROXY_WAT = """(module
  (import "supervm" "read_input" (func $input (param i32)))
  (import "supervm" "set_return" (func $return (param i32 i32)))
  (import "supervm" "call_static"
    (func $static (param i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "call")
    (call $input (i32.const 0))
    (i32.store8 (i32.const 64)
      (call $static (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 1000000)))
    (call $return (i32.const 64) (i32.const 1))))"""


@pytest.fixture
def world() -> Iterator[tuple[Kernel, WorldState]]:
    with Kernel.from_plugins(["wasm_native", "no:evm_revm_bridge"], env={}) as kernel:
        state = WorldState(kernel.open_storage("memory"))
        state.set_code(WRITER, bytes(wasmtime.wat2wasm(WRITER_WAT)))
        state.set_code(PROXY, bytes(wasmtime.wat2wasm(PROXY_WAT)))
        yield kernel, state


def _context(address: bytes, *, static: bool = False) -> ExecutionContext:
    return ExecutionContext(caller=EOA, address=address, gas_limit=5_000_000, static=static)


def test_the_preferred_native_backend_is_asked_first(world: tuple[Kernel, WorldState]) -> None:
    kernel, state = world
    backend = kernel.dispatcher(VMSettings()).backend_for(state.code(WRITER) or b"")
    assert isinstance(backend, NativeWasmBackend)
    if backend.engine_kind != "native":
        pytest.skip(f"the native core is not built: {backend.status.describe()}")
    assert backend.runs_natively(state.code(WRITER) or b"")
    # Not static: the write happens (on the native path).
    result = call_contract(kernel.dispatcher(), state, _context(WRITER), b"")
    assert result.error is None
    assert state.storage(WRITER, b"k") == b"v"


def test_a_native_callee_of_a_static_call_may_not_write(world: tuple[Kernel, WorldState]) -> None:
    kernel, state = world
    result = call_contract(kernel.dispatcher(), state, _context(PROXY), WRITER)
    assert result.error is None, result.error
    assert result.return_data == b"\x01"  # the static call failed
    assert state.storage(WRITER, b"k") is None


def test_a_static_top_level_call_traps_on_its_first_write(world: tuple[Kernel, WorldState]) -> None:
    kernel, state = world
    result = call_contract(kernel.dispatcher(), state, _context(WRITER, static=True), b"")
    assert result.error is not None and result.error.kind is ErrorKind.HOST
    assert "not allowed in a static call" in result.error.message
    assert state.storage(WRITER, b"k") is None
