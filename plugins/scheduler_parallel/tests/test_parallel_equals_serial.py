"""The parallel scheduler's result equals the serial scheduler's, byte for byte, always."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supervm import Kernel
from supervm.builtins.scheduler_serial import SerialScheduler

# Mostly transfers; writes, reads, failures and commutative credits.
OPS = st.sampled_from([0, 0, 0, 0, 0, 1, 2, 3, 4, 6, 6])


def _block(call, code: bytes, keys: int, ops: list[tuple[int, int, int, int]]):  # type: ignore[no-untyped-def]
    return [call(code, op, a % keys, b % keys, amount) for op, a, b, amount in ops]


def _compare(kernel: Kernel, scheduler, blocks) -> None:  # type: ignore[no-untyped-def]
    serial_storage = kernel.open_storage("memory")
    parallel_storage = kernel.open_storage("memory")
    executor = kernel.executor()
    for calls in blocks:
        expected = SerialScheduler().execute_block(calls, serial_storage, executor)
        got = scheduler.execute_block(calls, parallel_storage, executor)
        assert got == expected
        assert dict(parallel_storage.iterate()) == dict(serial_storage.iterate())


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2, 4])
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    keys=st.sampled_from([2, 5, 50]),
    blocks=st.lists(
        st.lists(
            st.tuples(OPS, st.integers(0, 255), st.integers(0, 255), st.integers(0, 150)),
            min_size=8,
            max_size=60,
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_random_blocks(kernel, bank, scheduler_for, call, workers, keys, blocks) -> None:  # type: ignore[no-untyped-def]
    scheduler = scheduler_for(workers)
    _compare(kernel, scheduler, [_block(call, bank, keys, ops) for ops in blocks])
    assert scheduler.last_stats is not None


@pytest.mark.slow
def test_workers_really_run_and_conflicts_are_reexecuted(kernel, bank, scheduler_for, call) -> None:  # type: ignore[no-untyped-def]
    scheduler = scheduler_for(2)
    # Everyone pays account 0: every call after the first conflicts with an earlier one.
    hot = [call(bank, 0, a, 0, 1) for a in range(1, 41)]
    _compare(kernel, scheduler, [hot])
    stats = scheduler.last_stats
    assert stats is not None and stats.workers == 2
    assert stats.executions > stats.transactions  # speculative results were rejected
    # Independent transfers: speculation succeeds.
    cold = [call(bank, 0, 2 * i, 2 * i + 1, 1) for i in range(40)]
    _compare(kernel, scheduler, [cold])
    stats = scheduler.last_stats
    assert stats is not None and stats.reexecutions == 0 and stats.own < stats.transactions
    assert stats.waves == 0  # no access lists: speculation


@pytest.mark.slow
def test_a_worker_killed_mid_block_loses_and_duplicates_nothing(kernel, bank, call) -> None:  # type: ignore[no-untyped-def]
    from supervm import SchedulerSettings
    from supervm_scheduler_parallel import ParallelScheduler

    scheduler = ParallelScheduler(SchedulerSettings(workers=2, options={"chunk_size": "4"}))
    try:
        # Slow calls (a busy loop each) so that the block is still running when the kill lands.
        calls = [call(bank, 5, 2 * i, 2 * i + 1, 3, gas=50_000_000) for i in range(120)]
        serial_storage = kernel.open_storage("memory")
        expected = SerialScheduler().execute_block(calls, serial_storage, kernel.executor())
        storage = kernel.open_storage("memory")
        assert scheduler.prepare(storage, kernel.executor())
        victim = scheduler._pool[0].process.pid
        killer = threading.Timer(0.05, os.kill, (victim, signal.SIGKILL))
        killer.start()
        started = time.perf_counter()
        got = scheduler.execute_block(calls, storage, kernel.executor())
        killer.join()
        assert time.perf_counter() - started > 0.05, "the block ended before the kill"
        assert got == expected
        assert dict(storage.iterate()) == dict(serial_storage.iterate())
        assert scheduler.last_stats is not None and scheduler.last_stats.worker_failures == 1
        # The next block restarts the worker and still agrees.
        more = [call(bank, 0, i % 7, (i + 2) % 7, 1) for i in range(40)]
        expected = SerialScheduler().execute_block(more, serial_storage, kernel.executor())
        assert scheduler.execute_block(more, storage, kernel.executor()) == expected
        assert scheduler.last_stats.workers == 2
    finally:
        scheduler.close()


def test_small_blocks_run_serially(kernel, bank, call) -> None:  # type: ignore[no-untyped-def]
    from supervm import SchedulerSettings
    from supervm_scheduler_parallel import ParallelScheduler

    scheduler = ParallelScheduler(SchedulerSettings(workers=1, options={"chunk_size": "50"}))
    try:
        storage = kernel.open_storage("memory")
        calls = [call(bank, 0, 1, 2, 5)]
        result = scheduler.execute_block(calls, storage, kernel.executor())
        assert result.results[0].ok
        assert scheduler.last_stats is not None and scheduler.last_stats.workers == 0
    finally:
        scheduler.close()


def test_plugin_registers_the_scheduler_and_bench(kernel) -> None:  # type: ignore[no-untyped-def]
    assert "parallel" in kernel.schedulers
    assert Kernel.from_plugins(["scheduler_parallel"]).default_name("scheduler") == "parallel"
    assert "bench parallel" in kernel.commands()


def test_global_workers_option_reaches_the_schedulers() -> None:
    from click.testing import CliRunner
    from supervm.cli.main import cli
    from supervm.cli.state import KernelState

    state = KernelState(("scheduler_parallel",), False, workers=3)
    assert state.kernel.scheduler().workers == 3  # type: ignore[attr-defined]
    state.close()
    result = CliRunner().invoke(cli, ["--workers", "0", "plugins"])
    assert result.exit_code != 0


@pytest.mark.slow
def test_bench_parallel_json_cell() -> None:
    import json

    from click.testing import CliRunner
    from supervm.cli.main import cli

    result = CliRunner().invoke(
        cli, ["bench", "parallel", "--accounts", "50", "--txs", "300", "--workers", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no progress with --json
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    data = json.loads(lines[0])
    assert set(data) == {
        "serial_tps", "parallel_tps", "speedup", "reexecutions_per_tx", "equal", "engine",
        "hardware_scaling",
    }  # fmt: skip
    assert data["equal"] is True
    assert data["engine"] in ("native", "python")
    assert 0 < data["hardware_scaling"] < 3


@pytest.mark.slow
def test_bench_parallel_python_engine() -> None:
    import json

    from click.testing import CliRunner
    from supervm.cli.main import cli

    args = ["--accounts", "50", "--txs", "300", "--workers", "1", "--engine", "python"]
    result = CliRunner().invoke(cli, ["bench", "parallel", *args, "--rounds", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["engine"] == "python" and data["equal"] is True


@pytest.mark.slow
def test_bench_parallel_shows_progress_on_stderr() -> None:
    from click.testing import CliRunner
    from supervm.cli.main import cli

    args = ["--accounts", "2", "--txs", "1", "--workers", "1", "--rounds", "2"]
    cell = "2 accounts x 1 txs"
    for engine, who in (("native", "2 threads"), ("python", "1 worker")):
        result = CliRunner().invoke(cli, ["bench", "parallel", *args, "--engine", engine])
        assert result.exit_code == 0, result.output
        assert result.stderr.splitlines() == [
            "  compiling the AssemblyScript ERC20",
            "  deploying the token and funding 2 accounts",
            *(
                line
                for r in ("1/2", "2/2")
                for line in (
                    f"  round {r}: funding fresh states ({cell})",
                    f"  round {r}: serial {cell}",
                    f"  round {r}: parallel ({who}) {cell}",
                )
            ),
            f"  measuring the hardware scaling of two processes ({cell})",
        ]
        assert "round" not in result.stdout and "compiling" not in result.stdout
        lines = result.stdout.splitlines()
        assert lines[0].split()[:2] == ["accounts", "txs"]
        assert lines[-1].startswith(f"engine: {engine} ")


def _with_access_lists(kernel, calls, truthful: bool):  # type: ignore[no-untyped-def]
    """Declare each call's keys, as found by simulating the block (eth_createAccessList does the
    same); untruthful lists leave one key out of every other call."""
    import attrs

    scratch = kernel.open_storage("memory")
    simulated = SerialScheduler().execute_block(calls, scratch, kernel.executor())
    out = []
    for n, (c, r) in enumerate(zip(calls, simulated.results, strict=True)):
        keys = sorted(r.read_set | r.write_set)
        if not truthful and n % 2 and keys:
            keys = keys[1:]
        out.append(attrs.evolve(c, access_list=tuple(keys)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("truthful", [True, False])
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    keys=st.sampled_from([2, 5, 50]),
    ops=st.lists(
        st.tuples(OPS, st.integers(0, 255), st.integers(0, 255), st.integers(0, 150)),
        min_size=8,
        max_size=60,
    ),
)
def test_access_list_waves_equal_serial(
    kernel, bank, scheduler_for, call, truthful, keys, ops
) -> None:  # type: ignore[no-untyped-def]
    calls = _with_access_lists(kernel, _block(call, bank, keys, ops), truthful)
    scheduler = scheduler_for(2)
    _compare(kernel, scheduler, [calls])
    stats = scheduler.last_stats
    assert stats is not None
    if truthful:
        assert stats.waves >= 1 and stats.reexecutions == 0 and stats.validation_failures == 0


@pytest.mark.slow
def test_a_lying_access_list_falls_back_to_speculation(kernel, bank, scheduler_for, call) -> None:  # type: ignore[no-untyped-def]
    import attrs

    # Everyone pays account 0, but every call claims to touch nothing.
    calls = [attrs.evolve(call(bank, 0, a, 0, 1), access_list=()) for a in range(1, 41)]
    scheduler = scheduler_for(2)
    _compare(kernel, scheduler, [calls])
    assert scheduler.last_stats is not None and scheduler.last_stats.waves == 0


@pytest.mark.slow
def test_after_a_hot_spot_block_the_next_blocks_run_serially_then_probe(kernel, bank, call) -> None:  # type: ignore[no-untyped-def]
    from supervm import SchedulerSettings
    from supervm_scheduler_parallel import ParallelScheduler
    from supervm_scheduler_parallel.scheduler import PROBE_EVERY

    scheduler = ParallelScheduler(SchedulerSettings(workers=1, options={"chunk_size": "4"}))
    try:
        hot = [call(bank, 0, a % 3, (a + 1) % 3, 1) for a in range(200)]
        _compare(kernel, scheduler, [hot])
        assert scheduler.last_stats is not None and scheduler.last_stats.workers == 1
        for _ in range(PROBE_EVERY - 1):
            _compare(kernel, scheduler, [hot])
            assert scheduler.last_stats.workers == 0  # cooling down: serial
        _compare(kernel, scheduler, [hot])
        assert scheduler.last_stats.workers == 1  # probing speculation again
    finally:
        scheduler.close()


@pytest.mark.slow
def test_commutative_credits_do_not_conflict(kernel, bank, scheduler_for, call) -> None:  # type: ignore[no-untyped-def]
    scheduler = scheduler_for(2)
    # Everyone credits account 0 with storage_add: no call reads it, so none conflicts.
    credits = [call(bank, 6, 0, 0, a % 100) for a in range(80)]
    _compare(kernel, scheduler, [credits, credits])
    stats = scheduler.last_stats
    assert stats is not None and stats.reexecutions == 0 and stats.own < stats.transactions


@pytest.mark.slow
def test_a_storage_changed_behind_the_schedulers_back_still_gives_the_serial_result(
    kernel, bank, scheduler_for, call
) -> None:  # type: ignore[no-untyped-def]
    from supervm.state.keys import storage_key

    scheduler = scheduler_for(1)
    serial_storage = kernel.open_storage("memory")
    parallel_storage = kernel.open_storage("memory")
    executor = kernel.executor()
    independent = [call(bank, 0, i, i + 100, 7) for i in range(40)]
    # Transfers from account 200, which holds 5 after the direct write below (the workers'
    # replicas still say 100): every transfer of 7 from it reverts and writes nothing.
    from_200 = [call(bank, 0, 200, 150 + i, 7) for i in range(40)]
    address = independent[0].context.address
    for calls in (independent, independent + from_200):
        expected = SerialScheduler().execute_block(calls, serial_storage, executor)
        assert scheduler.execute_block(calls, parallel_storage, executor) == expected
        # Someone writes to the store directly between blocks: the workers' replicas miss it.
        for storage in (serial_storage, parallel_storage):
            storage.write_batch([(storage_key(address, b"k\xc8"), (5).to_bytes(8, "little"))])
    assert dict(parallel_storage.iterate()) == dict(serial_storage.iterate())


def test_more_workers_than_cores_is_warned_about(caplog) -> None:  # type: ignore[no-untyped-def]
    from supervm import SchedulerSettings
    from supervm_scheduler_parallel import ParallelScheduler

    cores = os.cpu_count() or 2
    with caplog.at_level("WARNING", logger="supervm.parallel"):
        ParallelScheduler(SchedulerSettings(workers=cores - 1 or 1))
    assert cores == 1 or not caplog.records
    with caplog.at_level("WARNING", logger="supervm.parallel"):
        ParallelScheduler(SchedulerSettings(workers=cores))
    assert "share" in caplog.records[-1].getMessage()
