"""A long-running node runs the scheduler for millions of blocks: its statistics are bounded."""

from __future__ import annotations

from supervm import Kernel, SchedulerSettings
from supervm_scheduler_parallel import ParallelScheduler
from supervm_scheduler_parallel.scheduler import STATS_KEPT


def test_only_the_last_blocks_are_kept(kernel: Kernel, bank: bytes, call) -> None:  # type: ignore[no-untyped-def]
    # Blocks this small run serially in this process: no workers are started.
    scheduler = ParallelScheduler(SchedulerSettings(options={"stats_kept": "3"}))
    storage, executor = kernel.open_storage("memory"), kernel.executor()
    try:
        for size in range(1, 6):
            block = [call(bank, 0, i, i + 1, 1) for i in range(size)]
            scheduler.execute_block(block, storage, executor)
        assert [s.transactions for s in scheduler.stats] == [3, 4, 5]
        assert scheduler.last_stats is not None and scheduler.last_stats.transactions == 5
    finally:
        scheduler.close()


def test_the_default_bound_holds_past_it(kernel: Kernel) -> None:
    scheduler = ParallelScheduler()
    storage, executor = kernel.open_storage("memory"), kernel.executor()
    try:
        for _ in range(STATS_KEPT + 10):
            scheduler.execute_block([], storage, executor)
        assert len(scheduler.stats) == STATS_KEPT
    finally:
        scheduler.close()
