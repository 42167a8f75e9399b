"""Fixtures: a kernel, the bank contract, and parallel schedulers reused across examples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime
from supervm import Call, ExecutionContext, Kernel, SchedulerSettings
from supervm_scheduler_parallel import ParallelScheduler

BANK = Path(__file__).with_name("bank.wat")
CONTRACT = bytes.fromhex("00000000000000000000000000000000000ba4c0")


@pytest.fixture(scope="session")
def kernel() -> Iterator[Kernel]:
    with Kernel.from_plugins() as k:
        yield k


@pytest.fixture(scope="session")
def bank() -> bytes:
    return bytes(wasmtime.wat2wasm(BANK.read_text()))


@pytest.fixture(scope="session")
def schedulers() -> Iterator[dict[int, ParallelScheduler]]:
    """One scheduler per worker count, started once (worker processes are costly to start)."""
    made: dict[int, ParallelScheduler] = {}
    yield made
    for scheduler in made.values():
        scheduler.close()


@pytest.fixture
def scheduler_for(schedulers: dict[int, ParallelScheduler]):  # type: ignore[no-untyped-def]
    """``scheduler_for(workers)``: the shared scheduler with that many workers."""
    return lambda workers: _scheduler_for(schedulers, workers)


@pytest.fixture
def call():  # type: ignore[no-untyped-def]
    """``call(code, op, a, b, amount, gas=...)``: a call of the bank contract."""
    return _call


def _scheduler_for(made: dict[int, ParallelScheduler], workers: int) -> ParallelScheduler:
    if workers not in made:
        made[workers] = ParallelScheduler(
            SchedulerSettings(workers=workers, options={"chunk_size": "4"})
        )
    # Each test starts speculating: no cool-down carried over from another test's hot spot.
    made[workers]._hot_streak = 0
    return made[workers]


def _call(code: bytes, op: int, a: int, b: int, amount: int, gas: int = 200_000) -> Call:
    context = ExecutionContext(caller=bytes([a + 1]) * 20, address=CONTRACT, gas_limit=gas)
    return Call(code=code, input=bytes([op, a, b, amount]), context=context)
