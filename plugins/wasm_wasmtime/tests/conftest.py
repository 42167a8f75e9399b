"""Fixtures for the wasmtime backend tests.

Every test gets ``SUPERVM_CACHE_DIR`` pointed at its own temporary directory, so that nothing
(kernel, CLI, demo) ever writes compiled modules to ``~/.cache``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from supervm import ExecutionContext, ExecutionResult, Kernel, StateOverlay, VMSettings
from supervm.state.storage import Storage
from supervm_wasm_wasmtime import WasmtimeBackend

#: Addresses used throughout the tests.
CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de1")
OTHER_CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de2")
CALLER = bytes.fromhex("11" * 20)

WatFn = Callable[[str], bytes]


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "supervm-cache"
    monkeypatch.setenv("SUPERVM_CACHE_DIR", str(cache))
    monkeypatch.delenv("SUPERVM_PLUGINS", raising=False)
    return cache


@pytest.fixture
def wat() -> WatFn:
    """Compile WebAssembly text to binary."""

    def compile_(text: str) -> bytes:
        return bytes(wasmtime.wat2wasm(text))

    return compile_


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins(env={}) as k:
        yield k


@pytest.fixture
def storage(kernel: Kernel) -> Storage:
    return kernel.open_storage("memory")


@pytest.fixture
def make_backend(kernel: Kernel) -> Iterator[Callable[..., WasmtimeBackend]]:
    """Build a backend with the kernel's host functions; no disk cache unless asked."""
    made: list[WasmtimeBackend] = []

    def make(**settings: Any) -> WasmtimeBackend:
        settings.setdefault("cache_dir", "")
        backend = WasmtimeBackend(VMSettings(**settings), kernel.host_functions())
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(make_backend: Callable[..., WasmtimeBackend]) -> WasmtimeBackend:
    return make_backend()


@pytest.fixture
def ctx() -> ExecutionContext:
    return ExecutionContext(
        block_number=7, timestamp=1_700_000_000, caller=CALLER, address=CONTRACT
    )


@pytest.fixture
def run(
    backend: WasmtimeBackend, storage: Storage, wat: WatFn, ctx: ExecutionContext
) -> Callable[..., ExecutionResult]:
    """Execute like :meth:`Kernel.execute` on ``storage``: commit the writes of a good call.

    ``code`` may be WAT text or WASM bytes; keyword arguments go to ``execute`` except
    ``context`` and ``backend``.
    """

    def run_(
        code: str | bytes,
        entry: str = "call",
        args: tuple[int, ...] | list[int] = (),
        *,
        input: bytes = b"",
        context: ExecutionContext | None = None,
        vm: WasmtimeBackend | None = None,
    ) -> ExecutionResult:
        binary = wat(code) if isinstance(code, str) else code
        overlay = StateOverlay(storage)
        result = (vm or backend).execute(
            binary, overlay, context or ctx, entry=entry, args=args, input=input
        )
        if result.ok:
            overlay.commit()
        return result

    return run_


def dump(storage: Storage) -> dict[bytes, bytes]:
    """Everything committed in ``storage``."""
    return dict(storage.iterate())


@pytest.fixture
def committed(storage: Storage) -> Callable[[], dict[bytes, bytes]]:
    """A function returning everything committed in the test's storage."""
    return lambda: dump(storage)
