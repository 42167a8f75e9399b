"""The native path of the parallel scheduler: a block of calls on native threads.

When every call of a block runs on a backend with a native block executor (``wasm-native``'s
:meth:`~supervm_wasm_native.NativeWasmBackend.execute_block`: optimistic execution on native
threads with the GIL released, validation in block order) and every module those calls run
imports only host functions implemented in C, the block runs there instead of on worker
processes. Anything else (a module importing a host function a plugin defines in Python,
another entry point, a custom executor, items other than calls) returns ``None`` and takes the
process path, so third-party host functions keep working.

The backend is found by duck typing (``execute_block``), so this plugin does not depend on
``wasm_native``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from supervm import Call, ExecutionResult, StateOverlay
from supervm.execution.executor import CallExecutor
from supervm.execution.interfaces import Executor

log = logging.getLogger("supervm.parallel")


class _NativeRun(Protocol):
    results: list[ExecutionResult] | None
    abandoned: str | None
    stats: Any


def native_backend(executor: Executor[Any], items: Sequence[Any]) -> Any | None:
    """The backend whose block executor can run ``items``, or ``None``.

    Only the kernel's own :class:`CallExecutor` qualifies (another executor may do more per
    call than its backend does), with every item a :class:`Call` on one VM whose backend has
    ``execute_block``.
    """
    if type(executor) is not CallExecutor or not items:
        return None
    vms = {item.vm for item in items if type(item) is Call}
    if len(vms) != 1 or not all(type(item) is Call for item in items):
        return None
    try:
        backend = executor.kernel.vm(vms.pop(), executor.settings)
    except Exception:  # an unknown VM: the ordinary path turns it into failed results
        return None
    return backend if callable(getattr(backend, "execute_block", None)) else None


def declared_keys(calls: Sequence[Call]) -> list[bytes]:
    """Keys the calls declare (access lists): read into the block's cache before it starts."""
    keys: dict[bytes, None] = {}
    for call in calls:
        if call.access_list:
            keys.update(dict.fromkeys(call.access_list))
    return list(keys)


def run_native(
    backend: Any,
    calls: Sequence[Call],
    state: StateOverlay,
    threads: int,
    max_reexecutions: float,
) -> _NativeRun | None:
    """Run the block on ``backend``'s native executor; ``None`` if it cannot run there."""
    run: _NativeRun | None = backend.execute_block(
        calls,
        state,
        threads=threads,
        max_reexecutions=max_reexecutions,
        prefetch=declared_keys(calls),
    )
    return run
