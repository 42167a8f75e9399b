"""The compiler's WebAssembly post-processing: custom sections, start functions, imports."""

from __future__ import annotations

import pytest
import wasmtime
from hypothesis import given
from hypothesis import strategies as st
from supervm import ExecutionContext, Kernel, StateOverlay
from supervm_compiler_assemblyscript import wasm


def wat(text: str) -> bytes:
    return bytes(wasmtime.wat2wasm(text))


def with_custom(code: bytes, name: str, payload: bytes) -> bytes:
    raw = name.encode()
    body = wasm.write_u(len(raw)) + raw + payload
    return code + b"\x00" + wasm.write_u(len(body)) + body


@given(st.integers(0, 2**63))
def test_unsigned_leb128_round_trips(value: int) -> None:
    assert wasm.read_u(wasm.write_u(value), 0) == (value, len(wasm.write_u(value)))


@given(st.integers(-(2**63), 2**63 - 1))
def test_signed_leb128_round_trips(value: int) -> None:
    assert wasm.read_s(wasm.write_s(value), 0) == (value, len(wasm.write_s(value)))


def test_custom_sections_are_read_and_stripped() -> None:
    code = with_custom(wat('(module (memory (export "memory") 1))'), "supervm.abi", b'{"a":1}')
    assert wasm.custom_sections(code) == {"supervm.abi": b'{"a":1}'}
    stripped = wasm.strip_custom_sections(code)
    assert wasm.custom_sections(stripped) == {}
    assert wasmtime.Module(wasmtime.Engine(), stripped)


STUB_START = """
(module
  (global $offset (mut i32) (i32.const 0))
  (global $other (mut i64) (i64.const 5))
  (memory (export "memory") 1)
  (func $start (global.set $offset (i32.const 4284)) (global.set $other (i64.const -3)))
  (func (export "call") (i32.store (i32.const 0) (global.get $offset))
                        (i64.store (i32.const 8) (global.get $other)))
  (start $start))
"""


def test_a_constant_start_function_is_folded_into_the_globals() -> None:
    code, how = wasm.remove_start(wat(STUB_START))
    assert how == "folded"
    assert all(s.id != wasm.START for s in wasm.sections(code))
    store = wasmtime.Store()
    instance = wasmtime.Instance(store, wasmtime.Module(store.engine, code), [])
    instance.exports(store)["call"](store)  # type: ignore[operator]
    memory = instance.exports(store)["memory"]
    assert isinstance(memory, wasmtime.Memory)
    assert int.from_bytes(memory.read(store, 0, 4), "little") == 4284
    assert int.from_bytes(memory.read(store, 8, 16), "little", signed=True) == -3


def test_any_other_start_function_becomes_initialize(kernel: Kernel) -> None:
    code, how = wasm.remove_start(
        wat("""
        (module
          (import "supervm" "input_len" (func $len (result i32)))
          (import "supervm" "set_return" (func $ret (param i32 i32)))
          (memory (export "memory") 1)
          (func $init (i32.store (i32.const 0) (i32.add (call $len) (i32.const 40))))
          (func (export "call") (call $ret (i32.const 0) (i32.const 4)))
          (start $init))
        """)
    )
    assert how == "exported"
    assert {e.name for e in wasm.exports(code)} == {"memory", "call", wasm.INITIALIZE}
    result = kernel.execute(code, StateOverlay(kernel.open_storage("memory")), ExecutionContext(),
                            input=b"ab")  # fmt: skip
    assert result.ok, result.error
    assert result.return_data == (42).to_bytes(4, "little")


def test_modules_without_start_are_unchanged() -> None:
    code = wat('(module (memory (export "memory") 1) (func (export "call")))')
    assert wasm.remove_start(code) == (code, "none")


def test_imports_exports_and_signatures() -> None:
    code = wat("""
    (module
      (import "supervm" "storage_get" (func (param i32 i32) (result i64)))
      (import "env" "mem" (memory 1))
      (import "env" "g" (global i32))
      (func (export "call"))
      (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
    """)
    assert wasm.imports(code) == [
        wasm.Import("supervm", "storage_get", "function", ("i32", "i32"), ("i64",)),
        wasm.Import("env", "mem", "memory"),
        wasm.Import("env", "g", "global"),
    ]
    exports = {e.name: e for e in wasm.exports(code)}
    assert wasm.function_type(code, exports["call"].index) == ((), ())
    assert wasm.function_type(code, exports["add"].index) == (("i32", "i32"), ("i32",))
    assert wasm.function_type(code, 0) == (("i32", "i32"), ("i64",))


def test_malformed_modules_are_named() -> None:
    with pytest.raises(wasm.WasmFormatError, match="magic"):
        wasm.sections(b"nope")
    with pytest.raises(wasm.WasmFormatError, match="past the end"):
        wasm.sections(b"\0asm\x01\x00\x00\x00\x01\x05\x00")
