"""Where the native path stands aside: Python host functions, replaced core functions, nested
and re-entrant calls, a missing or mismatched extension, and the plugin's wiring."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from supervm import ExecutionContext, HostFunction, Kernel, StateOverlay, VMSettings
from supervm.cli.main import cli
from supervm.state.storage import Storage
from supervm_wasm_native import NativeWasmBackend
from supervm_wasm_native import backend as native_backend
from supervm_wasm_native.binding import (
    NativeStatus,
    NativeUnavailableError,
    check_layout,
    check_version,
)
from supervm_wasm_native.differential import compare
from supervm_wasm_wasmtime import WasmtimeBackend

Wat = Callable[[str], bytes]

COUNTER = """(module
  (import "supervm" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "supervm" "storage_read_value" (func $read (param i32 i32) (result i32)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (func (export "call")
    (if (i64.eq (call $get (i32.const 0) (i32.const 5)) (i64.const 8))
      (then (drop (call $read (i32.const 16) (i32.const 8)))))
    (i64.store (i32.const 16) (i64.add (i64.load (i32.const 16)) (i64.const 1)))
    (drop (call $set (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8)))
    (call $ret (i32.const 16) (i32.const 8))))"""

USES_PLUGIN = """(module
  (import "test" "twice" (func $twice (param i32) (result i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "call")
    (i32.store (i32.const 0) (call $twice (i32.const 21)))
    (call $ret (i32.const 0) (i32.const 4))))"""


def twice_fn() -> HostFunction:
    return HostFunction(
        "twice", ("i32",), ("i32",), gas=7, impl=lambda _env, x: 2 * x, module="test"
    )


def pair(kernel: Kernel, extra: list[HostFunction]) -> tuple[WasmtimeBackend, NativeWasmBackend]:
    functions = [*kernel.host_functions(), *extra]
    settings = VMSettings(cache_dir="")
    return WasmtimeBackend(settings, functions), NativeWasmBackend(settings, functions)


def test_python_host_functions_run_on_the_python_path(
    native: Any, kernel: Kernel, wat: Wat, storage_factory: Callable[[], Storage], ctx: Any
) -> None:
    python, fast = pair(kernel, [twice_fn()])
    try:
        code = wat(USES_PLUGIN)
        assert not fast.runs_natively(code)
        assert fast.runs_natively(wat(COUNTER))  # other modules still run natively
        a, b = compare([python, fast], code, storage_factory, ctx)
        assert a == b and b.result.return_data == (42).to_bytes(4, "little")
    finally:
        python.close()
        fast.close()


def test_a_replaced_core_function_is_never_bypassed(
    native: Any, kernel: Kernel, wat: Wat, storage_factory: Callable[[], Storage], ctx: Any
) -> None:
    calls = []
    functions = []
    for fn in kernel.host_functions():
        if fn.name == "storage_get":
            original = fn.impl

            def counting(env: Any, *args: int, _original: Any = original) -> Any:
                calls.append(args)
                return _original(env, *args)

            fn = attrs.evolve(fn, impl=counting)
        functions.append(fn)
    fast = NativeWasmBackend(VMSettings(cache_dir=""), functions)
    try:
        assert "storage_get" not in fast.native_functions
        code = wat(COUNTER)
        assert not fast.runs_natively(code)
        result = fast.execute(code, StateOverlay(storage_factory()), ctx)
        assert result.ok and calls == [(0, 5)]
    finally:
        fast.close()


def nested_pair(kernel: Kernel, inner: Any, code: bytes) -> HostFunction:
    """``test.nested()``: runs the counter through ``inner`` on the calling contract's state."""

    def nested(env: Any) -> int:
        context = ExecutionContext(caller=env.context.address, address=b"\x0c" * 20)
        return len(inner().execute(code, env.state, context).return_data)

    return HostFunction("nested", (), ("i32",), gas=100, impl=nested, module="test")


OUTER = """(module
  (import "test" "nested" (func $nested (result i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "call")
    (i32.store (i32.const 0) (i32.add (call $nested) (call $nested)))
    (call $ret (i32.const 0) (i32.const 4))))"""

# The Python path's nested calls share the outer call's store: it saves and restores the outer
# call's fuel around one (the native path gives it a store of its own), so both charge the
# outer call exactly its own instructions.


def _nested_outcomes(kernel: Kernel, wat: Wat, storage_factory: Any, ctx: Any) -> list[Any]:
    counter = wat(COUNTER)
    inner: dict[str, Any] = {}
    fn = nested_pair(kernel, lambda: inner["backend"], counter)
    python, fast = pair(kernel, [fn])
    try:
        results = []
        for backend in (python, fast):
            inner["backend"] = backend
            results.append(compare([backend], wat(OUTER), storage_factory, ctx)[0])
        return results
    finally:
        python.close()
        fast.close()


def _without_gas(outcome: Any) -> Any:
    return attrs.evolve(outcome, result=attrs.evolve(outcome.result, gas_used=0))


def test_nested_native_call_inside_a_python_path_call(
    native: Any, kernel: Kernel, wat: Wat, storage_factory: Callable[[], Storage], ctx: Any
) -> None:
    python_inner, native_inner = _nested_outcomes(kernel, wat, storage_factory, ctx)
    assert _without_gas(python_inner) == _without_gas(native_inner)
    assert native_inner.result.return_data == (16).to_bytes(4, "little")
    counter_key = b"\x01" + b"\x0c" * 20 + b"count"
    assert dict(native_inner.committed)[counter_key] == (2).to_bytes(8, "little")


def test_nested_call_gas_equal(
    native: Any, kernel: Kernel, wat: Wat, storage_factory: Callable[[], Storage], ctx: Any
) -> None:
    python_inner, native_inner = _nested_outcomes(kernel, wat, storage_factory, ctx)
    assert python_inner == native_inner


class ReentrantOverlay(StateOverlay):
    """A state whose first storage read runs another call on the same backend."""

    __slots__ = ("backend", "code", "inner")

    def get(self, key: bytes) -> bytes | None:
        if self.inner is None:
            self.inner = StateOverlay(self._base)
            self.backend.execute(self.code, self.inner, ExecutionContext(address=b"\x0d" * 20))
        return super().get(key)


def _reentrant(backends: Any, code: bytes, storage_factory: Any, ctx: Any) -> list[Any]:
    seen = []
    for backend in backends:
        state = ReentrantOverlay(storage_factory())
        state.backend, state.code, state.inner = backend, code, None
        result = backend.execute(code, state, ctx)
        seen.append((result, state.changes(), state.inner.changes()))
    return seen


def test_a_call_made_from_inside_a_storage_read(
    backends: Any, wat: Wat, storage_factory: Callable[[], Storage], ctx: Any
) -> None:
    counter = wat(COUNTER)
    (py_result, *py_rest), (result, *rest) = _reentrant(backends, counter, storage_factory, ctx)
    assert rest == py_rest and attrs.evolve(result, gas_used=0) == attrs.evolve(
        py_result, gas_used=0
    )
    # The nested call does not change what the outer one is charged.
    plain = backends[1].execute(counter, StateOverlay(storage_factory()), ctx)
    assert result == plain and result.ok


def test_a_call_made_from_inside_a_storage_read_gas_equal(
    backends: Any, wat: Wat, storage_factory: Callable[[], Storage], ctx: Any
) -> None:
    python, fast = _reentrant(backends, wat(COUNTER), storage_factory, ctx)
    assert python == fast


def test_without_the_extension_everything_runs_on_the_python_path(
    kernel: Kernel,
    wat: Wat,
    storage_factory: Callable[[], Storage],
    ctx: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    missing = NativeStatus(False, "the C extension is not built (test)")
    monkeypatch.setattr(native_backend, "native_status", lambda: missing)
    with caplog.at_level(logging.WARNING, logger="supervm.native"):
        fast = NativeWasmBackend(VMSettings(cache_dir=""), kernel.host_functions())
    python = WasmtimeBackend(VMSettings(cache_dir=""), kernel.host_functions())
    try:
        assert fast.engine_kind == "python"
        assert "unavailable, calls run on the Python path" in caplog.text
        code = wat(COUNTER)
        assert not fast.runs_natively(code)
        a, b = compare([python, fast], code, storage_factory, ctx)
        assert a == b and b.result.ok
        with pytest.raises(NativeUnavailableError, match="not built"):
            NativeWasmBackend(VMSettings(options={"native": "require"}), kernel.host_functions())
    finally:
        fast.close()
        python.close()


def test_options(native: Any, kernel: Kernel, wat: Wat) -> None:
    off = NativeWasmBackend(VMSettings(cache_dir="", options={"native": "off"}), [])
    assert off.engine_kind == "python"
    off.close()
    with pytest.raises(ValueError, match="auto, off or require"):
        NativeWasmBackend(VMSettings(options={"native": "maybe"}), [])


def test_version_and_layout_checks(native: Any) -> None:
    check_version("50.0.1")
    with pytest.raises(NativeUnavailableError, match=r"wasmtime 51\.0\.0 is installed"):
        check_version("51.0.0")
    layout = native.struct_layout()
    check_layout(layout)
    with pytest.raises(NativeUnavailableError, match="wasmtime_extern_t: 40 bytes here, 32"):
        check_layout({**layout, "wasmtime_extern_t": 40})


def test_plugin_registers_the_backend_and_the_command(native: Any) -> None:
    with Kernel.from_plugins(["wasm_native"], env={}) as kernel:
        assert kernel.default_name("vm") == "wasm-native"
        backend = kernel.vm()
        assert isinstance(backend, NativeWasmBackend) and backend.engine_kind == "native"
    result = CliRunner().invoke(cli, ["native"])
    assert result.exit_code == 0, result.output
    assert "native execution core: available" in result.output
    assert "storage_read" in result.output


def test_a_missing_extension_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import supervm_wasm_native
    from supervm_wasm_native import binding

    # A None entry makes the import fail as it does when the build left no extension.
    monkeypatch.setitem(sys.modules, "supervm_wasm_native._native", None)
    monkeypatch.delattr(supervm_wasm_native, "_native", raising=False)
    with pytest.raises(NativeUnavailableError, match="the C extension is not built"):
        binding._load()


def test_another_wasmtime_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from supervm_wasm_native import binding

    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: "51.0.0" if name == "wasmtime" else real(name)
    )
    with pytest.raises(NativeUnavailableError, match=r"pin wasmtime==50\.0\.1"):
        binding._load()
