"""The parallel scheduler's native path: blocks of calls on the native block executor.

Blocks whose calls all run natively (backend ``wasm-native``, modules importing only host
functions in C) run on native threads and must equal the serial scheduler's result byte for
byte; a module importing a host function that is not in C, or ``native=off``, takes the
process path, as before.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supervm import Call, ExecutionContext, Kernel, SchedulerSettings
from supervm.builtins.scheduler_serial import SerialScheduler
from supervm_scheduler_parallel import ParallelScheduler
from supervm_scheduler_parallel.hardware import hardware_scaling
from supervm_scheduler_parallel.native import declared_keys, native_backend

from .conftest import CONTRACT, _call

OPS = st.sampled_from([0, 0, 0, 0, 0, 1, 2, 3, 4, 6, 6])


def native_call(code: bytes, op: int, a: int, b: int, amount: int, gas: int = 200_000) -> Call:
    return attrs.evolve(_call(code, op, a, b, amount, gas), vm="wasm-native")


def compare(kernel: Kernel, scheduler: ParallelScheduler, blocks: list[list[Call]]) -> list[str]:
    serial_storage, parallel_storage = kernel.open_storage("memory"), kernel.open_storage("memory")
    executor = kernel.executor()
    engines = []
    for calls in blocks:
        expected = SerialScheduler().execute_block(calls, serial_storage, executor)
        got = scheduler.execute_block(calls, parallel_storage, executor)
        assert got == expected
        assert dict(parallel_storage.iterate()) == dict(serial_storage.iterate())
        assert scheduler.last_stats is not None
        engines.append(scheduler.last_stats.engine)
    return engines


@pytest.fixture(scope="module")
def native_scheduler() -> ParallelScheduler:
    return ParallelScheduler(SchedulerSettings(workers=1, options={"native_threads": "2"}))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    keys=st.sampled_from([2, 5, 50]),
    blocks=st.lists(
        st.lists(
            st.tuples(OPS, st.integers(0, 255), st.integers(0, 255), st.integers(0, 150),
                      st.sampled_from([200_000, 200_000, 3_000])),
            min_size=1, max_size=80,
        ),
        min_size=1, max_size=3,
    ),
)  # fmt: skip
def test_native_blocks_equal_serial(
    kernel: Kernel, bank: bytes, native_scheduler: ParallelScheduler, keys: int, blocks: list[Any]
) -> None:
    made = [
        [native_call(bank, op, a % keys, b % keys, amount, gas) for op, a, b, amount, gas in ops]
        for ops in blocks
    ]
    assert set(compare(kernel, native_scheduler, made)) == {"native"}
    stats = native_scheduler.last_stats
    assert stats is not None and stats.executions >= stats.transactions


def test_hot_spot_stats(kernel: Kernel, bank: bytes, native_scheduler: ParallelScheduler) -> None:
    hot = [native_call(bank, 0, a, 0, 1) for a in range(1, 200)]  # everyone pays account 0
    compare(kernel, native_scheduler, [hot])
    stats = native_scheduler.last_stats
    assert stats is not None and stats.engine == "native" and stats.workers == 2
    assert stats.misses >= 1


def test_which_blocks_take_the_native_path(kernel: Kernel, bank: bytes) -> None:
    executor = kernel.executor()
    ctx = ExecutionContext(caller=b"\x01" * 20, address=CONTRACT)
    native = [native_call(bank, 0, 1, 2, 3)]
    assert native_backend(executor, native) is not None
    assert native_backend(executor, [_call(bank, 0, 1, 2, 3)]) is None  # vm "wasm"
    assert native_backend(executor, [*native, _call(bank, 0, 1, 2, 3)]) is None  # mixed VMs
    assert native_backend(executor, [Call(code=bank, context=ctx, vm="no-such-vm")]) is None
    assert native_backend(lambda call, state: None, native) is None  # type: ignore[arg-type]
    assert native_backend(executor, []) is None
    declared = [attrs.evolve(c, access_list=(b"k1", b"k2")) for c in native * 2]
    assert declared_keys(declared) == [b"k1", b"k2"]


@pytest.mark.slow
def test_a_python_host_function_takes_the_process_path(kernel: Kernel, bank: bytes) -> None:
    # The same bank, plus an import of a host function that is not in C: not native.
    bank_wat = _bank_wat()
    text = bank_wat.replace(
        "(module",
        '(module (import "supervm" "verify_ed25519"'
        " (func $unused (param i32 i32 i32 i32) (result i32)))",
        1,
    )
    assert text != bank_wat
    code = bytes(wasmtime.wat2wasm(text))
    calls = [native_call(code, 0, a % 5, (a + 1) % 5, 1) for a in range(80)]
    scheduler = ParallelScheduler(SchedulerSettings(workers=1, options={"chunk_size": "4"}))
    try:
        assert set(compare(kernel, scheduler, [calls])) == {"python"}
    finally:
        scheduler.close()


@pytest.mark.slow
def test_native_off_takes_the_process_path(kernel: Kernel, bank: bytes) -> None:
    calls = [native_call(bank, 0, a % 5, (a + 1) % 5, 1) for a in range(80)]
    options = {"chunk_size": "4", "native": "off"}
    scheduler = ParallelScheduler(SchedulerSettings(workers=1, options=options))
    try:
        assert set(compare(kernel, scheduler, [calls])) == {"python"}
    finally:
        scheduler.close()
    with pytest.raises(ValueError, match="auto or off"):
        ParallelScheduler(SchedulerSettings(options={"native": "maybe"}))


@pytest.mark.slow
def test_hardware_scaling_is_measured() -> None:
    scaling = hardware_scaling(iterations=200_000, repeats=1)
    assert 0.2 < scaling < 2.5


def _bank_wat() -> str:
    from .conftest import BANK

    return str(BANK.read_text())
