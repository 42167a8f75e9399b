"""The dispatcher: the code decides the backend, and every backend receives the dispatcher."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from supervm import CallError, ExecutionBackend, Kernel, VMSettings, hookimpl
from supervm.builtins import scheduler_serial
from supervm.execution.dispatch import Dispatcher
from supervm.execution.host import HostFunction
from supervm.model import ExecutionResult
from supervm.plugins.registry import VMRegistry


class Tagged(ExecutionBackend):
    """Accepts code starting with its tag; remembers the dispatcher it was given."""

    def __init__(self, tag: bytes) -> None:
        self.tag = tag
        self.bound: Dispatcher | None = None

    def accepts(self, code: bytes) -> bool:
        return code.startswith(self.tag)

    def validate(self, code: bytes) -> None:
        pass

    def exports(self, code: bytes) -> frozenset[str]:
        return frozenset({"call"})

    def execute(self, code, state, context, *, entry="call", args=(), input=b""):  # type: ignore[no-untyped-def]
        return ExecutionResult(return_data=self.tag)

    def bind_dispatcher(self, dispatcher: Dispatcher) -> None:
        self.bound = dispatcher


class TwoEngines:
    @hookimpl
    def supervm_register_vm(self, registry: VMRegistry) -> None:
        def factory(tag: bytes):  # type: ignore[no-untyped-def]
            def make(settings: VMSettings, host: Sequence[HostFunction]) -> Tagged:
                return Tagged(tag)

            return make

        registry.add_vm("alpha", factory(b"A"))
        registry.add_vm("beta", factory(b"B"))


@pytest.fixture
def kernel() -> Kernel:
    return Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial), ("two", TwoEngines())],
    )


def test_the_code_picks_the_backend(kernel: Kernel) -> None:
    dispatcher = kernel.dispatcher()
    assert dispatcher.backend_for(b"A...").tag == b"A"  # type: ignore[attr-defined]
    assert dispatcher.backend_for(b"B...").tag == b"B"  # type: ignore[attr-defined]


def test_every_backend_receives_the_dispatcher_once_built(kernel: Kernel) -> None:
    backend = kernel.vm("beta")
    assert isinstance(backend, Tagged)
    assert backend.bound is kernel.dispatcher()
    assert kernel.dispatcher(VMSettings(timeout=1.0)) is not kernel.dispatcher()


def test_code_no_backend_accepts_is_a_clear_error(kernel: Kernel) -> None:
    with pytest.raises(CallError, match="EVM bytecode needs an EVM backend"):
        kernel.dispatcher().backend_for(bytes.fromhex("6080604052"))
    with pytest.raises(CallError, match="no WebAssembly backend is enabled"):
        kernel.dispatcher().backend_for(b"\0asm\x01\0\0\0")
