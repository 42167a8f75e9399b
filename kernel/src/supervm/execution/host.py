"""Host functions: the calls a contract makes into the node.

A host function is declared once, independent of any engine: its import module and name, its
WebAssembly signature, its gas price and a Python implementation. Plugins contribute them through
the ``supervm_register_host_functions`` hook; an execution backend binds all of them into every
module it instantiates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

import attrs

from supervm.model import Event, ExecutionContext, Log
from supervm.state.overlay import StateOverlay

ValType = Literal["i32", "i64"]

#: The import module of SuperVM's host ABI.
HOST_MODULE = "supervm"


class HostTrap(Exception):
    """Raised by a host function to stop the call with an error naming the problem."""


class OutOfGas(HostTrap):
    """Raised when a charge would exceed the call's gas limit."""


class Revert(Exception):
    """Raised by the ``revert`` host function: the call ends, its writes are discarded."""

    def __init__(self, data: bytes) -> None:
        super().__init__("execution reverted")
        self.data = data


class HostEnv(Protocol):
    """What a host function sees of the running call. Backends implement it."""

    @property
    def context(self) -> ExecutionContext:
        """The call's execution context."""

    @property
    def state(self) -> StateOverlay:
        """The world state the call runs on (writes are buffered in a snapshot)."""

    @property
    def input(self) -> bytes:
        """The call data."""

    @property
    def events(self) -> list[Event]:
        """Events emitted so far."""

    @property
    def logs(self) -> list[Log]:
        """Logs emitted so far."""

    def read(self, ptr: int, length: int) -> bytes:
        """Copy ``length`` bytes of linear memory at ``ptr``; traps if out of bounds."""

    def write(self, ptr: int, data: bytes) -> None:
        """Copy ``data`` into linear memory at ``ptr``; traps if out of bounds."""

    def charge(self, gas: int) -> None:
        """Consume ``gas`` more; raises :class:`OutOfGas` past the limit."""

    def gas_left(self) -> int:
        """Gas remaining, counting both instructions and host charges."""

    def set_return(self, data: bytes) -> None:
        """Set the call's return data."""

    def scratch(self) -> dict[str, object]:
        """Per-call scratch space for host functions that keep state between calls."""


#: A host function implementation: receives the environment and the integer arguments.
HostImpl = Callable[..., int | None]


@attrs.frozen
class HostFunction:
    """One importable host function.

    :param name: the import name.
    :param params: WebAssembly parameter types.
    :param results: WebAssembly result types (zero or one).
    :param gas: base gas charged on every call, before the implementation runs.
    :param impl: ``impl(env, *args) -> int | None``; may charge more gas via ``env.charge``.
    :param module: the import module; SuperVM's ABI uses ``"supervm"``.
    :param doc: one line for the host ABI reference.
    """

    name: str
    params: tuple[ValType, ...]
    results: tuple[ValType, ...]
    gas: int
    impl: HostImpl = attrs.field(eq=False)
    module: str = HOST_MODULE
    doc: str = ""

    def __attrs_post_init__(self) -> None:
        if len(self.results) > 1:
            raise ValueError(f"host function {self.name}: at most one result is supported")
        for t in (*self.params, *self.results):
            if t not in ("i32", "i64"):
                raise ValueError(f"host function {self.name}: unsupported type {t!r}")

    @property
    def qualified_name(self) -> str:
        """``module.name``, as used in error messages."""
        return f"{self.module}.{self.name}"

    @property
    def signature(self) -> str:
        """The WebAssembly signature, e.g. ``(i32, i32) -> i64``."""
        res = self.results[0] if self.results else "()"
        return f"({', '.join(self.params)}) -> {res}"
