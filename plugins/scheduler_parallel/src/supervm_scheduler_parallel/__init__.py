"""SuperVM's parallel scheduler (plugin ``scheduler_parallel``).

Registers the scheduler ``parallel`` and the ``supervm bench parallel`` command. Enable it with
``supervm --plugin scheduler_parallel ...``, which also makes it the default scheduler.
"""

from __future__ import annotations

from supervm import hookimpl
from supervm.plugins.registry import CommandRegistry, SchedulerRegistry

from .graph import DependencyGraph
from .rwset import ConflictDetector, ReadWriteSet
from .scheduler import BlockStats, ParallelScheduler

__all__ = ["BlockStats", "ConflictDetector", "DependencyGraph", "ParallelScheduler", "ReadWriteSet"]


@hookimpl
def supervm_register_scheduler(registry: SchedulerRegistry) -> None:
    """Register the parallel scheduler as ``parallel``."""
    registry.add_scheduler("parallel", ParallelScheduler)


@hookimpl
def supervm_register_commands(registry: CommandRegistry) -> None:
    """Add ``supervm bench parallel``."""
    from .bench import parallel_command

    registry.add_command(parallel_command, group="bench")
