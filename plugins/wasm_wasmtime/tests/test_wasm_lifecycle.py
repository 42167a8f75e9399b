"""Backend lifecycle: closing releases the engine; kernels build one backend per settings."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
import wasmtime
from supervm import ExecutionContext, Kernel, StateOverlay, VMSettings
from supervm_wasm_wasmtime import WasmtimeBackend

ADD = (
    '(module (func (export "add") (param i32 i32) (result i32)'
    " (i32.add (local.get 0) (local.get 1))))"
)


def _tickers() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "supervm-wasm-epoch")


def test_close_stops_the_epoch_ticker(kernel: Kernel, storage, wat) -> None:
    before = _tickers()
    backend = WasmtimeBackend(VMSettings(cache_dir=""), kernel.host_functions())
    assert _tickers() == before  # started lazily, on the first call
    backend.execute(wat(ADD), StateOverlay(storage), ExecutionContext(), entry="add", args=[1, 2])
    assert _tickers() == before + 1
    backend.close()
    assert _tickers() == before


def test_kernel_builds_one_backend_per_settings_and_closes_them(storage, wat) -> None:
    with Kernel.from_plugins(env={}) as kernel:
        default = kernel.vm("wasm")
        assert isinstance(default, WasmtimeBackend)
        assert kernel.vm("wasm") is default
        assert kernel.vm() is default  # wasm is the default VM
        other = kernel.vm("wasm", VMSettings(cache_dir=""))
        assert other is not default
        assert kernel.vm("wasm", VMSettings(cache_dir="")) is other
        assert kernel.execute(wat(ADD), storage, entry="add", args=[2, 2]).value == 4
    with pytest.raises(RuntimeError, match="closed"):
        default.execute(
            wat(ADD), StateOverlay(storage), ExecutionContext(), entry="add", args=[1, 1]
        )


def test_backend_accepts_only_wasm(backend, wat) -> None:
    assert backend.accepts(wat(ADD))
    assert not backend.accepts(b"\x60\x80")  # EVM bytecode
    assert not backend.accepts(b"")


def test_closed_backend_is_freed_without_the_cycle_collector(kernel: Kernel, storage, wat) -> None:
    gc.collect()
    gc.disable()
    try:
        backend = WasmtimeBackend(VMSettings(cache_dir=""), kernel.host_functions())
        backend.execute(
            wat(ADD), StateOverlay(storage), ExecutionContext(), entry="add", args=[1, 2]
        )
        backend.close()
        ref = weakref.ref(backend)
        del backend
        assert ref() is None
    finally:
        gc.enable()


def test_host_function_may_call_back_into_the_backend() -> None:
    """A nested call (as cross-contract calls will make) keeps the outer call's memory."""
    from supervm import ExecutionContext, HostFunction, Kernel, StateOverlay, hookimpl
    from supervm.plugins.registry import HostFunctionRegistry

    inner_code = bytes(
        wasmtime.wat2wasm('(module (memory (export "memory") 1) (func (export "call")))')
    )
    holder: dict[str, object] = {}

    def nested(env, ptr: int) -> int:  # type: ignore[no-untyped-def]
        backend = holder["backend"]
        result = backend.execute(inner_code, env.state, ExecutionContext())  # type: ignore[attr-defined]
        env.write(ptr, b"ok" if result.ok else b"no")
        return 0

    class Nesting:
        @hookimpl
        def supervm_register_host_functions(self, registry: HostFunctionRegistry) -> None:
            registry.add_host_function(
                HostFunction(
                    name="nested",
                    params=("i32",),
                    results=("i32",),
                    gas=1,
                    impl=nested,
                    module="test",
                )
            )

    outer_code = bytes(
        wasmtime.wat2wasm(
            """(module (import "test" "nested" (func $n (param i32) (result i32)))
                 (import "supervm" "set_return" (func $ret (param i32 i32)))
                 (memory (export "memory") 1)
                 (func (export "call")
                   (drop (call $n (i32.const 100)))
                   (drop (memory.grow (i32.const 1)))
                   ;; 70000 lies in the page just grown: the outer memory must be re-read
                   (i32.store16 (i32.const 70000) (i32.load16_u (i32.const 100)))
                   (call $ret (i32.const 70000) (i32.const 2))))"""
        )
    )
    with Kernel.from_plugins(extra=[("nesting", Nesting())]) as kernel:
        backend = kernel.vm()
        holder["backend"] = backend
        result = backend.execute(
            outer_code, StateOverlay(kernel.open_storage("memory")), ExecutionContext()
        )
    assert result.ok, result.error
    assert result.return_data == b"ok"


def test_many_live_backends_fit_in_the_process_mapping_limit() -> None:
    """Each engine used to reserve 2,000 memory mappings for async stacks SuperVM never uses;
    30 live backends then exceeded Linux's default limit of 65,530 and aborted the process."""

    def maps() -> int:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)

    code = bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1) (func (export "call")))'))
    before = maps()
    backends = []
    with Kernel.from_plugins() as kernel:
        storage = kernel.open_storage("memory")
        for i in range(40):
            backend = kernel.vm("wasm", VMSettings(cache_dir="", max_stack=512 * 1024 + i))
            assert backend.execute(code, StateOverlay(storage), ExecutionContext()).ok
            backends.append(backend)
        per_backend = (maps() - before) / len(backends)
    assert per_backend < 500, f"{per_backend:.0f} memory mappings per backend"
