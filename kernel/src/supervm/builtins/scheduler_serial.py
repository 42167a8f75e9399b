"""The serial scheduler: executes a block's items one after another, in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from supervm.execution.interfaces import Executor, Scheduler, SchedulerSettings
from supervm.execution.snapshot import gc_paused
from supervm.model import BlockResult
from supervm.plugins.hookspecs import hookimpl
from supervm.plugins.registry import SchedulerRegistry
from supervm.state.overlay import StateOverlay


class SerialScheduler(Scheduler):
    """The reference scheduler every other scheduler must match byte for byte."""

    def __init__(self, settings: SchedulerSettings | None = None) -> None:
        self.settings = settings or SchedulerSettings()

    def run_block(
        self, items: Sequence[Any], state: StateOverlay, executor: Executor[Any]
    ) -> BlockResult:
        """Run each item on ``state`` in order; the changes stay buffered in it."""
        with gc_paused():
            results = []
            for item in items:
                state.reset_tracking()
                results.append(executor(item, state))
        return BlockResult.of(results)


@hookimpl
def supervm_register_scheduler(registry: SchedulerRegistry) -> None:
    """Register the serial scheduler as ``serial``."""
    registry.add_scheduler("serial", SerialScheduler)
