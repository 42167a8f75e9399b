"""The transfer-cost model behind ``supervm bench parallel --costs``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from supervm_scheduler_parallel.costs import (
    MAIN_HANDED,
    MAIN_OWN,
    WORKER_HANDED,
    WORKER_OTHER,
    TransferCosts,
    ceiling,
)

PAYERS = (WORKER_HANDED, MAIN_HANDED, MAIN_OWN, WORKER_OTHER)


def _costs(execute: float, tail: float = 0.0, **per_payer: float) -> TransferCosts:
    names = {"worker": WORKER_HANDED, "main": MAIN_HANDED, "own": MAIN_OWN, "other": WORKER_OTHER}
    return TransferCosts(
        execute, tail, tuple((names[k], "step", us) for k, us in per_payer.items())
    )


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_without_overheads_every_process_is_a_core(workers: int) -> None:
    speedup, share = ceiling(_costs(20.0), workers)
    assert speedup == pytest.approx(workers + 1)
    assert share == pytest.approx(workers / (workers + 1))


def test_the_serial_tail_caps_the_speedup_as_amdahl_says() -> None:
    # 20 us of execution split over two processes plus 2 us that stay serial.
    speedup, _ = ceiling(_costs(20.0, tail=2.0), 1)
    assert speedup == pytest.approx(22.0 / 12.0)


def test_worked_example() -> None:
    # main(f) = (1 - f) * 21 + 5 f, worker(f) = 25 f + (1 - f) * 1: both 13 us at f = 0.5,
    # then the 1 us tail: 21 us serially against 14.
    costs = _costs(20.0, tail=1.0, worker=5.0, main=5.0, own=1.0, other=1.0)
    speedup, share = ceiling(costs, 1)
    assert share == pytest.approx(0.5)
    assert speedup == pytest.approx(21.0 / 14.0)


def test_a_worker_too_slow_to_help_gets_nothing() -> None:
    # Handing a call out costs the scheduling process more than running it: keep everything.
    speedup, share = ceiling(_costs(10.0, main=12.0), 1)
    assert share == 0.0
    assert speedup == pytest.approx(1.0)


def test_steps_are_summed_per_payer() -> None:
    costs = TransferCosts(1.0, 0.0, ((MAIN_HANDED, "a", 0.5), (MAIN_HANDED, "b", 0.25)))
    assert costs.total(MAIN_HANDED) == 0.75
    assert costs.total(WORKER_HANDED) == 0.0


cost = st.floats(min_value=0.0, max_value=30.0, allow_nan=False)


@given(
    execute=st.floats(min_value=1.0, max_value=50.0),
    tail=cost,
    base=st.tuples(cost, cost, cost, cost),
    payer=st.sampled_from(PAYERS),
    extra=st.floats(min_value=0.0, max_value=30.0),
    workers=st.integers(min_value=1, max_value=8),
)
def test_no_added_cost_ever_raises_the_ceiling(
    execute: float,
    tail: float,
    base: tuple[float, float, float, float],
    payer: str,
    extra: float,
    workers: int,
) -> None:
    steps = tuple((who, "step", us) for who, us in zip(PAYERS, base, strict=True))
    before, _ = ceiling(TransferCosts(execute, tail, steps), workers)
    after, _ = ceiling(TransferCosts(execute, tail, (*steps, (payer, "more", extra))), workers)
    assert after <= before + 1e-9
    assert 0.0 < after <= workers + 1 + 1e-9


@pytest.mark.slow
def test_bench_prints_every_step_and_a_ceiling() -> None:
    from click.testing import CliRunner
    from supervm.cli.main import cli

    runner = CliRunner()
    args = ["bench", "parallel", "--costs", "--accounts", "50", "--txs", "128", "--rounds", "1"]
    result = runner.invoke(cli, [*args, "--workers", "1"])
    assert result.exit_code == 0, result.output
    for who in PAYERS:
        assert who in result.output
    for step in ("pickle the results", "validate the reads", "publish the writes"):
        assert re.search(rf"{step}\s+\d+\.\d\d\n", result.output), result.output
    found = re.search(r"ceiling with 1 worker: (\d+\.\d\d)x", result.output)
    assert found is not None, result.output
    assert 0.0 < float(found.group(1)) <= 2.0

    refused = runner.invoke(cli, [*args, "--json"])
    assert refused.exit_code == 2
    assert "--costs prints a table of its own" in refused.output
