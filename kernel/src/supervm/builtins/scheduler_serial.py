"""The serial scheduler: executes a block's calls one after another and commits once."""

from __future__ import annotations

from collections.abc import Sequence

from supervm.execution.interfaces import Executor, Scheduler, SchedulerSettings
from supervm.execution.snapshot import gc_paused
from supervm.model import BlockResult, Call
from supervm.plugins.hookspecs import hookimpl
from supervm.plugins.registry import SchedulerRegistry
from supervm.state.overlay import StateOverlay
from supervm.state.storage import Storage


class SerialScheduler(Scheduler):
    """The reference scheduler every other scheduler must match byte for byte."""

    def __init__(self, settings: SchedulerSettings | None = None) -> None:
        self.settings = settings or SchedulerSettings()

    def execute_block(
        self, calls: Sequence[Call], storage: Storage, executor: Executor[Call]
    ) -> BlockResult:
        """Run each call on one overlay in order, then write the overlay in one batch."""
        with gc_paused():
            state = StateOverlay(storage)
            results = []
            for call in calls:
                state.reset_tracking()
                results.append(executor(call, state))
            state.commit()
        return BlockResult.of(results)


@hookimpl
def supervm_register_scheduler(registry: SchedulerRegistry) -> None:
    """Register the serial scheduler as ``serial``."""
    registry.add_scheduler("serial", SerialScheduler)
