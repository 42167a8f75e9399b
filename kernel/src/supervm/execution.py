"""Running calls with all-or-nothing state semantics."""

from __future__ import annotations

from collections.abc import Callable

from .model import ExecutionResult
from .storage import StateOverlay


def execute_with_snapshot(
    state: StateOverlay, run: Callable[[StateOverlay], ExecutionResult]
) -> ExecutionResult:
    """Run ``run(state)`` inside a snapshot of ``state``.

    The snapshot is committed if the result has no error, and rolled back if the result carries
    an error (trap, revert, out of gas) or ``run`` raises; an exception propagates after the
    rollback.
    """
    state.snapshot()
    try:
        result = run(state)
    except BaseException:
        state.rollback_snapshot()
        raise
    if result.error is None:
        state.commit_snapshot()
    else:
        state.rollback_snapshot()
    return result
