"""Choosing the engine for a piece of code: the code at an address decides which VM runs it.

Every registered execution backend is asked, in registration order, whether it
:meth:`~supervm.execution.interfaces.ExecutionBackend.accepts` the code (the WASM backend takes
code that starts with ``\\0asm``; an EVM backend takes the rest). A contract therefore never
names its engine, and a transaction, a JSON-RPC call and (with cross-VM calls) another contract
all reach it the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervm.errors import CallError
from supervm.execution.interfaces import ExecutionBackend, VMSettings

if TYPE_CHECKING:
    from supervm.kernel import Kernel


class Dispatcher:
    """Finds the backend that runs a piece of code, building each backend once."""

    def __init__(self, kernel: Kernel, settings: VMSettings | None = None) -> None:
        self._kernel = kernel
        self._settings = settings
        self._backends: list[ExecutionBackend] | None = None
        self._precompiles: dict[bytes, ExecutionBackend] | None = None

    def backends(self) -> list[ExecutionBackend]:
        """Every enabled backend: the kernel's preferred VM first, then registration order."""
        if self._backends is None:
            # The preferred VM (``--plugin wasm_native``: the native core) is asked first, so
            # that it, not the first registered, runs the code both accept.
            names = self._kernel.vms.names()
            preferred = self._kernel.default_name("vm")
            if preferred in names:
                names = [preferred, *(n for n in names if n != preferred)]
            self._backends = [self._kernel.vm(n, self._settings) for n in names]
        return self._backends

    def backend_for(self, code: bytes) -> ExecutionBackend:
        """The backend that accepts ``code``; :class:`CallError` if none does."""
        # The common case first: one check per backend, no allocation.
        for backend in self.backends():
            if backend.accepts(code):
                return backend
        if code[:4] == b"\0asm":
            raise CallError("no WebAssembly backend is enabled (the wasm_wasmtime plugin)")
        raise CallError(
            "no execution backend accepts this code: EVM bytecode needs an EVM backend, which "
            "is not enabled; SuperVM contracts are WebAssembly modules (starting with \\0asm)"
        )

    def backend_for_precompile(self, address: bytes) -> ExecutionBackend | None:
        """The backend that runs the precompiled contract at ``address``, if one does."""
        if self._precompiles is None:
            table: dict[bytes, ExecutionBackend] = {}
            for backend in self.backends():
                for precompile in backend.precompiles():
                    table.setdefault(precompile, backend)  # the first registered wins
            self._precompiles = table
        return self._precompiles.get(address)
