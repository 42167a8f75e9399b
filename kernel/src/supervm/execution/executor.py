"""The executor of :class:`~supervm.model.Call` records that ``Kernel.executor`` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervm.errors import CallError, ModuleError, UnknownImplementationError
from supervm.execution.interfaces import ExecutionBackend, ExecutorSpec, VMSettings
from supervm.model import Call, ErrorKind, ExecutionError, ExecutionResult
from supervm.state.overlay import StateOverlay

if TYPE_CHECKING:
    from supervm.kernel import Kernel


class CallExecutor:
    """Executes calls with the kernel's backends; a bad call becomes a failed result."""

    def __init__(self, kernel: Kernel, settings: VMSettings | None) -> None:
        self._kernel = kernel
        self._settings = settings
        # Backends by VM name: looked up once, not per call (building the settings key and
        # hashing it cost about a tenth of a token transfer).
        self._backends: dict[str, ExecutionBackend] = {}

    @property
    def kernel(self) -> Kernel:
        """The kernel whose backends execute the calls."""
        return self._kernel

    @property
    def settings(self) -> VMSettings | None:
        """The VM settings calls run with (``None``: the defaults)."""
        return self._settings

    def spec(self) -> ExecutorSpec:
        """How a worker process builds this executor again: ``CallExecutor(kernel, settings)``."""
        return ExecutorSpec(CallExecutor, (self._settings,))

    def __call__(self, call: Call, state: StateOverlay, /) -> ExecutionResult:
        try:
            backend = self._backends.get(call.vm)
            if backend is None:
                backend = self._backends[call.vm] = self._kernel.vm(call.vm, self._settings)
            result = backend.execute(
                call.code, state, call.context, entry=call.entry, args=call.args, input=call.input
            )
        except ModuleError as exc:
            # Inside a block a bad call fails alone; the block goes on.
            result = ExecutionResult(error=ExecutionError(ErrorKind.INVALID_MODULE, str(exc)))
        except (CallError, UnknownImplementationError) as exc:
            result = ExecutionResult(error=ExecutionError(ErrorKind.INVALID_CALL, str(exc)))
        return result
