"""The kernel's ``call_contract``: one message call, whatever engine runs the callee.

A fake engine runs "programs": code is ``b"FAKE"`` plus a name, and the test gives each name
a Python function of the state, the context and the input. That is enough to check the message
rules without any real VM: what the callee sees, value before code, one snapshot per call,
rollback on failure, the depth and static rules, precompiles, delegate code, and what a
misbehaving engine turns into.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
import supervm_storage_memory
from supervm import ExecutionBackend, Kernel, VMSettings, hookimpl
from supervm.errors import CallError, ModuleError
from supervm.execution.calls import CALL_ENTRY, MAX_CALL_DEPTH, call_contract
from supervm.execution.host import HostFunction
from supervm.execution.snapshot import execute_with_snapshot
from supervm.model import ErrorKind, ExecutionContext, ExecutionError, ExecutionResult
from supervm.plugins.registry import VMRegistry
from supervm.state.overlay import StateOverlay
from supervm.state.world import WorldState

Program = Callable[[WorldState, ExecutionContext, bytes], ExecutionResult]

ALICE = bytes.fromhex("a1" * 20)
CONTRACT = bytes.fromhex("c0" * 20)
LIBRARY = bytes.fromhex("1b" * 20)
EMPTY = bytes.fromhex("ee" * 20)
PRECOMPILE = bytes(19) + b"\x01"
MAGIC = b"FAKE"


class FakeEngine(ExecutionBackend):
    """Runs ``MAGIC + name`` by calling ``programs[name]``; records every execution."""

    def __init__(self) -> None:
        self.programs: dict[bytes, Program] = {}
        self.runs: list[tuple[bytes, ExecutionContext, bytes, str]] = []

    def accepts(self, code: bytes) -> bool:
        return code.startswith(MAGIC) or code == b""

    def validate(self, code: bytes) -> None:
        pass

    def exports(self, code: bytes) -> frozenset[str]:
        return frozenset({CALL_ENTRY})

    def precompiles(self) -> frozenset[bytes]:
        return frozenset({PRECOMPILE})

    def execute(
        self,
        code: bytes,
        state: StateOverlay,
        context: ExecutionContext,
        *,
        entry: str = "call",
        args: Sequence[int] = (),
        input: bytes = b"",
    ) -> ExecutionResult:
        self.runs.append((code, context, input, entry))
        name = code[len(MAGIC) :] if code else b"precompile"
        program = self.programs[name]
        assert isinstance(state, WorldState)
        if name.startswith(b"raw"):  # an engine that writes outside a snapshot of its own
            return program(state, context, input)
        return execute_with_snapshot(state, lambda s: program(s, context, input))


class Plugin:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    @hookimpl
    def supervm_register_vm(self, registry: VMRegistry) -> None:
        engine = self.engine

        def make(settings: VMSettings, host: Sequence[HostFunction]) -> FakeEngine:
            return engine

        registry.add_vm("fake", make)


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def kernel(engine: FakeEngine) -> Iterator[Kernel]:
    with Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("storage_memory", supervm_storage_memory), ("fake", Plugin(engine))],
    ) as k:
        yield k


@pytest.fixture
def state(kernel: Kernel) -> WorldState:
    world = WorldState(kernel.open_storage("memory"))
    world.set_balance(ALICE, 1000)
    return world


def deploy(state: WorldState, engine: FakeEngine, address: bytes, program: Program) -> None:
    name = address.hex().encode()
    engine.programs[name] = program
    state.set_code(address, MAGIC + name)


def frame(
    *, to: bytes = CONTRACT, value: int = 0, static: bool = False, depth: int = 1, gas: int = 50_000
) -> ExecutionContext:
    return ExecutionContext(
        caller=ALICE, address=to, value=value, static=static, depth=depth, gas_limit=gas
    )


def ok(data: bytes = b"", gas: int = 10) -> ExecutionResult:
    return ExecutionResult(return_data=data, gas_used=gas)


def failed(kind: ErrorKind, data: bytes = b"", gas: int = 10) -> ExecutionResult:
    return ExecutionResult(return_data=data, gas_used=gas, error=ExecutionError(kind, "no"))


def run(
    kernel: Kernel, state: WorldState, context: ExecutionContext, **kw: object
) -> ExecutionResult:
    return call_contract(kernel.dispatcher(), state, context, b"in", **kw)  # type: ignore[arg-type]


# -- what the callee sees ---------------------------------------------------------------------


def test_the_callee_runs_its_own_code_with_the_frame_and_input(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    deploy(state, engine, CONTRACT, lambda s, c, i: ok(b"out:" + i, gas=42))
    context = frame(value=5)
    result = run(kernel, state, context)
    assert result == ok(b"out:in", gas=42)
    [(code, seen, data, entry)] = engine.runs
    assert (code, seen, data, entry) == (MAGIC + CONTRACT.hex().encode(), context, b"in", "call")


def test_value_moves_before_the_code_runs(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    seen: list[int] = []

    def program(s: WorldState, c: ExecutionContext, i: bytes) -> ExecutionResult:
        seen.append(s.balance(c.address))
        return ok()

    deploy(state, engine, CONTRACT, program)
    assert run(kernel, state, frame(value=300)).ok
    assert seen == [300]
    assert (state.balance(ALICE), state.balance(CONTRACT)) == (700, 300)


# -- one snapshot per call --------------------------------------------------------------------


def test_a_successful_call_keeps_its_writes(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    def program(s: WorldState, c: ExecutionContext, i: bytes) -> ExecutionResult:
        s.set_storage(c.address, b"k", b"v")
        return ok()

    deploy(state, engine, CONTRACT, program)
    depth = state.depth
    assert run(kernel, state, frame(value=1)).ok
    assert state.storage(CONTRACT, b"k") == b"v"
    assert state.balance(CONTRACT) == 1
    assert state.depth == depth


@pytest.mark.parametrize("kind", [ErrorKind.REVERT, ErrorKind.TRAP, ErrorKind.OUT_OF_GAS])
def test_a_failed_call_loses_its_writes_and_its_value(
    kernel: Kernel, state: WorldState, engine: FakeEngine, kind: ErrorKind
) -> None:
    def program(s: WorldState, c: ExecutionContext, i: bytes) -> ExecutionResult:
        s.set_storage(c.address, b"k", b"v")
        return failed(kind, b"why", gas=33)

    deploy(state, engine, CONTRACT, program)
    # The same with an engine that keeps no snapshot of its own: the kernel's rolls back.
    engine.programs[b"raw"] = program
    state.set_code(LIBRARY, MAGIC + b"raw")
    for target in (CONTRACT, LIBRARY):
        result = run(kernel, state, frame(to=target, value=100))
        assert result.error is not None and result.error.kind is kind
        assert (result.return_data, result.gas_used) == (b"why", 33)
        assert state.storage(target, b"k") is None
        assert (state.balance(ALICE), state.balance(target)) == (1000, 0)


def test_a_reentrant_call_sees_the_outer_calls_writes_and_fails_alone(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    dispatcher = kernel.dispatcher()

    def outer(s: WorldState, c: ExecutionContext, i: bytes) -> ExecutionResult:
        if i == b"inner":
            seen = s.storage(c.address, b"outer")
            s.set_storage(c.address, b"inner", b"lost")
            return failed(ErrorKind.REVERT, seen or b"")
        s.set_storage(c.address, b"outer", b"written")
        again = ExecutionContext(caller=c.address, address=c.address, depth=c.depth + 1)
        inner = call_contract(dispatcher, s, again, b"inner")
        return ok(inner.return_data)

    deploy(state, engine, CONTRACT, outer)
    result = run(kernel, state, frame())
    assert result.ok
    assert result.return_data == b"written"  # the reentered frame saw the outer's write
    assert state.storage(CONTRACT, b"outer") == b"written"
    assert state.storage(CONTRACT, b"inner") is None


# -- depth and static -------------------------------------------------------------------------


def test_the_depth_limit(kernel: Kernel, state: WorldState, engine: FakeEngine) -> None:
    deploy(state, engine, CONTRACT, lambda s, c, i: ok(b"ran"))
    assert run(kernel, state, frame(depth=MAX_CALL_DEPTH)).return_data == b"ran"
    too_deep = run(kernel, state, frame(depth=MAX_CALL_DEPTH + 1, value=1))
    assert too_deep.error is not None and too_deep.error.kind is ErrorKind.INVALID_CALL
    assert "depth" in too_deep.error.message
    assert too_deep.gas_used == 0
    assert len(engine.runs) == 1
    assert state.balance(CONTRACT) == 0


def test_a_static_call_cannot_move_value(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    deploy(state, engine, CONTRACT, lambda s, c, i: ok())
    result = run(kernel, state, frame(static=True, value=1))
    assert result.error is not None and result.error.kind is ErrorKind.INVALID_CALL
    assert "static" in result.error.message
    assert engine.runs == []
    assert state.balance(CONTRACT) == 0
    assert run(kernel, state, frame(static=True)).ok
    assert engine.runs[0][1].static


def test_value_above_the_balance_fails_without_running(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    deploy(state, engine, CONTRACT, lambda s, c, i: ok())
    result = run(kernel, state, frame(value=1001))
    assert result.error is not None and result.error.kind is ErrorKind.INVALID_CALL
    assert "insufficient balance" in result.error.message
    assert result.gas_used == 0
    assert engine.runs == []
    assert state.balance(ALICE) == 1000


# -- accounts without code, precompiles, delegate code ----------------------------------------


def test_an_account_without_code_is_a_plain_transfer(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    result = run(kernel, state, frame(to=EMPTY, value=10))
    assert result == ExecutionResult()
    assert engine.runs == []
    assert state.balance(EMPTY) == 10


def test_a_precompile_runs_on_its_backend_with_no_code(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    engine.programs[b"precompile"] = lambda s, c, i: ok(b"pre:" + c.address[-1:] + i)
    result = run(kernel, state, frame(to=PRECOMPILE))
    assert result.return_data == b"pre:\x01in"
    assert engine.runs[0][0] == b""


def test_a_delegate_call_to_a_precompile_runs_the_precompile(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    engine.programs[b"precompile"] = lambda s, c, i: ok(b"pre:" + c.address[-1:] + i)
    deploy(state, engine, CONTRACT, lambda s, c, i: ok(b"own code"))
    result = run(kernel, state, frame(), code_address=PRECOMPILE, transfer=False)
    assert result.return_data == b"pre:\x01in"
    assert [r[0] for r in engine.runs] == [b""]


def test_a_delegate_call_runs_other_code_on_the_frames_account(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    def library(s: WorldState, c: ExecutionContext, i: bytes) -> ExecutionResult:
        s.set_storage(c.address, b"k", b"from library")
        return ok(c.value.to_bytes(1, "big"))

    deploy(state, engine, LIBRARY, library)
    deploy(state, engine, CONTRACT, lambda s, c, i: ok(b"own code"))
    result = run(kernel, state, frame(value=7), code_address=LIBRARY, transfer=False)
    assert result.return_data == b"\x07"  # the frame's value is shown ...
    assert state.balance(CONTRACT) == 0  # ... but not moved
    assert state.storage(CONTRACT, b"k") == b"from library"
    assert state.storage(LIBRARY, b"k") is None


# -- engines that refuse or break -------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ModuleError("bad module"), ErrorKind.INVALID_MODULE),
        (CallError("bad call"), ErrorKind.INVALID_CALL),
    ],
)
def test_an_engine_refusing_the_code_fails_the_call_with_all_its_gas(
    kernel: Kernel, state: WorldState, engine: FakeEngine, exc: Exception, kind: ErrorKind
) -> None:
    def program(s: WorldState, c: ExecutionContext, i: bytes) -> ExecutionResult:
        raise exc

    deploy(state, engine, CONTRACT, program)
    result = run(kernel, state, frame(value=5, gas=1234))
    assert result.error == ExecutionError(kind, str(exc))
    assert result.gas_used == 1234
    assert state.balance(CONTRACT) == 0


def test_code_no_engine_accepts_fails_the_call(kernel: Kernel, state: WorldState) -> None:
    state.set_code(CONTRACT, b"\x60\x00")  # EVM bytecode; no EVM engine in this kernel
    result = run(kernel, state, frame(gas=99))
    assert result.error is not None and result.error.kind is ErrorKind.INVALID_CALL
    assert "EVM" in result.error.message
    assert result.gas_used == 99


def test_an_engine_crash_rolls_back_and_propagates(
    kernel: Kernel, state: WorldState, engine: FakeEngine
) -> None:
    def program(s: WorldState, c: ExecutionContext, i: bytes) -> ExecutionResult:
        raise RuntimeError("engine bug")

    deploy(state, engine, CONTRACT, program)
    depth = state.depth
    with pytest.raises(RuntimeError, match="engine bug"):
        run(kernel, state, frame(value=5))
    assert state.depth == depth
    assert state.balance(CONTRACT) == 0
