"""Fixtures for the native backend's tests: both backends over the kernel's host functions, and
a comparison that requires the native path to do exactly what the Python path does."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from supervm import ExecutionContext, Kernel, VMSettings
from supervm.state.storage import Storage
from supervm_wasm_native import NativeWasmBackend, native_status
from supervm_wasm_native.differential import Outcome, compare
from supervm_wasm_wasmtime import WasmtimeBackend

CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de1")
CALLER = bytes.fromhex("11" * 20)


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "supervm-cache"
    monkeypatch.setenv("SUPERVM_CACHE_DIR", str(cache))
    monkeypatch.delenv("SUPERVM_PLUGINS", raising=False)
    return cache


def require_native() -> None:
    """Fail (not skip) when the native core did not build: these tests exist to check it.

    ``SUPERVM_NATIVE_OPTIONAL=1`` turns the failure into a skip, for machines without a C
    compiler.
    """
    status = native_status()
    if status.available:
        return
    if os.environ.get("SUPERVM_NATIVE_OPTIONAL") == "1":
        pytest.skip(status.describe())
    pytest.fail(status.describe())


@pytest.fixture(scope="session")
def native() -> Any:
    """The bound extension (fails the test when it is missing, see :func:`require_native`)."""
    from supervm_wasm_native.binding import native_module

    require_native()
    return native_module()


@pytest.fixture(scope="session")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}) as k:
        yield k


@pytest.fixture(scope="session")
def make_backends(
    kernel: Kernel,
) -> Iterator[Callable[..., tuple[WasmtimeBackend, NativeWasmBackend]]]:
    """``make(**settings)``: a Python and a native backend with the same settings."""
    made: list[Any] = []

    def make(**settings: Any) -> tuple[WasmtimeBackend, NativeWasmBackend]:
        require_native()
        settings.setdefault("cache_dir", "")
        vm = VMSettings(**settings)
        pair = (
            WasmtimeBackend(vm, kernel.host_functions()),
            NativeWasmBackend(vm, kernel.host_functions()),
        )
        made.extend(pair)
        return pair

    yield make
    for backend in made:
        backend.close()


@pytest.fixture(scope="session")
def backends(
    make_backends: Callable[..., tuple[WasmtimeBackend, NativeWasmBackend]],
) -> tuple[WasmtimeBackend, NativeWasmBackend]:
    return make_backends()


@pytest.fixture(scope="session")
def storage_factory(kernel: Kernel) -> Callable[[], Storage]:
    return lambda: kernel.open_storage("memory")


@pytest.fixture(scope="session")
def wat() -> Callable[[str], bytes]:
    return lambda text: bytes(wasmtime.wat2wasm(text))


@pytest.fixture
def ctx() -> ExecutionContext:
    return ExecutionContext(
        block_number=7, timestamp=1_700_000_000, caller=CALLER, address=CONTRACT
    )


Same = Callable[..., Outcome]


@pytest.fixture(scope="session")
def same(
    backends: tuple[WasmtimeBackend, NativeWasmBackend], storage_factory: Callable[[], Storage]
) -> Same:
    """``same(code, context, **call)``: run on both paths, assert equal, return the outcome.

    The native backend must run the code natively unless ``native=False`` is passed.
    """

    def run(code: bytes, context: ExecutionContext, *, native: bool = True, **call: Any) -> Outcome:
        python, fast = backends
        if native:
            assert fast.runs_natively(code), "expected the native path for this module"
        reference, candidate = compare([python, fast], code, storage_factory, context, **call)
        assert candidate.raised == reference.raised
        assert candidate.result == reference.result
        assert candidate.changes == reference.changes
        assert candidate.reads == reference.reads
        assert candidate.writes == reference.writes
        assert candidate.committed == reference.committed
        return reference

    return run


@pytest.fixture(scope="session")
def erc20_code() -> bytes:
    """The example AssemblyScript ERC20, compiled once per session."""
    from supervm import CompileSettings
    from supervm_compiler_assemblyscript import AssemblyScriptCompiler

    repo = Path(__file__).resolve().parents[3]
    node_modules = repo / "node_modules"
    if not (node_modules / "assemblyscript").exists():
        pytest.skip("the contract toolchain is not installed (make install)")
    source = repo / "examples" / "contracts" / "erc20-as" / "assembly" / "index.ts"
    settings = CompileSettings(optimize=True, node_modules=node_modules)
    (artifact,) = AssemblyScriptCompiler().compile([source], settings)
    return artifact.bytecode
