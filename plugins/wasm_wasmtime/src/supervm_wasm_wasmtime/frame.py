"""The state of one running call, as host functions see it (the kernel's ``HostEnv``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervm import Event, ExecutionContext, HostTrap, Log, OutOfGas, StateOverlay
from supervm.state.keys import STORAGE_PREFIX

if TYPE_CHECKING:
    from supervm.execution.dispatch import Dispatcher


class Frame:
    """One call in progress: its context, state, memory, gas and outputs.

    Host-function gas is counted here in Python and reconciled with wasmtime's fuel at the end
    of the call (see :meth:`WasmtimeBackend.execute`): a call fails with out-of-gas when its
    instructions plus host charges exceed the limit, and a single host charge past the limit
    traps at once. This keeps fuel reads off the per-host-call path.
    """

    __slots__ = (
        "_scratch",
        "call_return",
        "context",
        "dispatcher",
        "error",
        "events",
        "gas_limit",
        "host_gas",
        "input",
        "logs",
        "mem",
        "mem_size",
        "pending_value",
        "return_data",
        "session",
        "state",
        "static",
        "storage_prefix",
    )

    def __init__(
        self,
        context: ExecutionContext,
        state: StateOverlay,
        input: bytes,
        session: object,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.context = context
        #: Finds the callee's engine for the ``call_*`` host functions (``None``: no kernel).
        self.dispatcher = dispatcher
        #: Whether state changes are forbidden (a static call or one it made); checked by every
        #: state-changing host function, so kept flat beside the context.
        self.static = context.static
        self.state = state
        self.input = input
        self.session = session
        self.gas_limit = context.gas_limit
        self.host_gas = 0
        self.events: list[Event] = []
        self.logs: list[Log] = []
        self.return_data = b""
        #: The return or revert data of the last contract call this call made.
        self.call_return = b""
        self.pending_value: bytes | None = None
        self.error: BaseException | None = None
        self.mem: memoryview | None = None
        # -1 sends every access, even an empty one, to the slow path until memory is attached.
        self.mem_size = -1
        self._scratch: dict[str, object] | None = None
        self.storage_prefix = STORAGE_PREFIX + context.address

    # -- memory ------------------------------------------------------------------------------

    def _refresh(self, ptr: int, length: int) -> memoryview:
        """Slow path of a bounds check: memory may have grown since the call began."""
        mem = self.mem
        if mem is None:
            raise HostTrap("the module exports no memory named 'memory'")
        self.mem_size = self.session.memory_size()  # type: ignore[attr-defined]
        end = ptr + length
        if length < 0 or end > self.mem_size:
            raise HostTrap(
                f"host call accessed memory [{ptr}, {end}) outside the module's "
                f"{self.mem_size} bytes"
            )
        return mem

    def read(self, ptr: int, length: int) -> bytes:
        """Copy ``length`` bytes of linear memory at ``ptr``; traps if out of bounds."""
        end = ptr + length
        if end > self.mem_size or length < 0:
            return self._refresh(ptr, length)[ptr:end].tobytes()
        return self.mem[ptr:end].tobytes()  # type: ignore[index]

    def write(self, ptr: int, data: bytes) -> None:
        """Copy ``data`` into linear memory at ``ptr``; traps if out of bounds."""
        end = ptr + len(data)
        if end > self.mem_size:
            self._refresh(ptr, len(data))[ptr:end] = data
        else:
            self.mem[ptr:end] = data  # type: ignore[index]

    # -- gas ---------------------------------------------------------------------------------

    def charge(self, gas: int) -> None:
        """Consume ``gas``; raises :class:`OutOfGas` when host charges alone pass the limit."""
        self.host_gas += gas
        if self.host_gas > self.gas_limit:
            raise OutOfGas(f"out of gas: limit {self.gas_limit}")

    def gas_left(self) -> int:
        """Gas remaining: the limit less instructions executed and host charges."""
        used_by_code = self.gas_limit - self.session.fuel()  # type: ignore[attr-defined]
        left = self.gas_limit - used_by_code - self.host_gas
        if left < 0:
            raise OutOfGas(f"out of gas: limit {self.gas_limit}")
        return left

    # -- outputs -----------------------------------------------------------------------------

    def set_return(self, data: bytes) -> None:
        """Set the call's return data."""
        self.return_data = data

    def scratch(self) -> dict[str, object]:
        """Per-call scratch space for plugin host functions."""
        if self._scratch is None:
            self._scratch = {}
        return self._scratch
