"""The built-in serial scheduler, driven through the kernel with an inline fake VM.

The fake VM (``script``) interprets ``Call.code`` as a tiny script of ``;``-separated commands:

* ``set KEY VALUE`` writes, ``del KEY`` deletes, ``get KEY`` reads into the return data;
* ``fail`` ends the call with a REVERT error (its writes must be rolled back);
* ``callerror`` raises :class:`CallError`, ``moduleerror`` raises :class:`ModuleError`.

Code not starting with a command word is not accepted (ModuleError), like a WASM backend
refusing non-WASM bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pytest
import supervm.builtins.scheduler_serial as scheduler_serial
from supervm import (
    BlockProposal,
    BlockResult,
    Call,
    CallError,
    ErrorKind,
    ExecutionBackend,
    ExecutionContext,
    ExecutionError,
    ExecutionResult,
    HostFunction,
    Kernel,
    ModuleError,
    StateOverlay,
    Storage,
    StorageError,
    StorageSettings,
    VMSettings,
    execute_with_snapshot,
    hookimpl,
)
from supervm.builtins.scheduler_serial import SerialScheduler
from supervm.plugins.registry import StorageRegistry, VMRegistry
from supervm.state.storage import Change

PROPOSER = b"\x07" * 20
COMMANDS = (b"set", b"del", b"get", b"fail", b"callerror", b"moduleerror")


# -- a minimal storage and a spy ------------------------------------------------------------


class DictStorage(Storage):
    """The smallest correct Storage: a dict, sorted on iteration."""

    def __init__(self, settings: StorageSettings | None = None) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        keys = sorted(k for k in self.data if k >= start and (end is None or k < end))
        for key in reversed(keys) if reverse else keys:
            yield key, self.data[key]

    def write_batch(self, changes: Iterable[Change]) -> None:
        changes = list(changes)
        for key, value in changes:
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value


class SpyStorage(Storage):
    """Wraps a backend and records every batch written to it."""

    def __init__(self, inner: Storage, *, fail: bool = False) -> None:
        self.inner = inner
        self.batches: list[list[Change]] = []
        self.fail = fail

    def get(self, key: bytes) -> bytes | None:
        return self.inner.get(key)

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        return self.inner.iterate(start, end, reverse=reverse)

    def write_batch(self, changes: Iterable[Change]) -> None:
        changes = list(changes)
        if self.fail:
            raise StorageError("disk on fire")
        self.batches.append(changes)
        self.inner.write_batch(changes)

    def snapshot(self) -> dict[bytes, bytes]:
        return dict(self.inner.iterate())


# -- the fake VM -----------------------------------------------------------------------------


class ScriptVM(ExecutionBackend):
    def __init__(self, settings: VMSettings, host_functions: Sequence[HostFunction]) -> None:
        self.settings = settings
        self.host_functions = list(host_functions)
        self.states: list[StateOverlay] = []
        self.closed = False

    def accepts(self, code: bytes) -> bool:
        return code.split(b" ", 1)[0].split(b";", 1)[0] in COMMANDS

    def validate(self, code: bytes) -> None:
        if not self.accepts(code):
            raise ModuleError(f"not a script: {code[:16]!r}")

    def exports(self, code: bytes) -> frozenset[str]:
        self.validate(code)
        return frozenset({"call", "deploy"})

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
        self.validate(code)
        self.states.append(state)
        commands = [c.split() for c in code.split(b";") if c.strip()]
        if [b"callerror"] in commands:
            raise CallError("script asked for a CallError")
        if [b"moduleerror"] in commands:
            raise ModuleError("script asked for a ModuleError")

        def run(st: StateOverlay) -> ExecutionResult:
            ret = b""
            for gas, command in enumerate(commands, start=1):
                op, *rest = command
                if op == b"set":
                    st.set(rest[0], rest[1])
                elif op == b"del":
                    st.delete(rest[0])
                elif op == b"get":
                    ret = st.get(rest[0]) or b""
                elif op == b"fail":
                    return self._result(st, gas, ret, ExecutionError(ErrorKind.REVERT, "fail"))
            return self._result(st, len(commands), ret, None)

        return execute_with_snapshot(state, run)

    @staticmethod
    def _result(
        st: StateOverlay, gas: int, ret: bytes, error: ExecutionError | None
    ) -> ExecutionResult:
        return ExecutionResult(
            return_data=ret,
            gas_used=gas,
            read_set=frozenset(st.reads),
            write_set=frozenset(st.writes),
            error=error,
        )

    def close(self) -> None:
        self.closed = True


class ScriptVMPlugin:
    def __init__(self) -> None:
        self.backends: list[ScriptVM] = []

    def _factory(self, settings: VMSettings, host_functions: Sequence[HostFunction]) -> ScriptVM:
        backend = ScriptVM(settings, host_functions)
        self.backends.append(backend)
        return backend

    @hookimpl
    def supervm_register_vm(self, registry: VMRegistry) -> None:
        registry.add_vm("script", self._factory)


class DictStoragePlugin:
    @hookimpl
    def supervm_register_storage(self, registry: StorageRegistry) -> None:
        registry.add_storage("dict", DictStorage)


class Observer:
    """Records lifecycle notifications, with what storage held at that moment."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, Any]] = []
        self.storage: Storage | None = None
        self.storage_seen: list[dict[bytes, bytes]] = []

    def _look(self) -> None:
        if self.storage is not None:
            self.storage_seen.append(dict(self.storage.iterate()))

    @hookimpl
    def supervm_observe_transaction(self, call: Call, result: ExecutionResult) -> None:
        self._look()
        self.events.append(("transaction", call, result))

    @hookimpl
    def supervm_observe_block(self, proposal: BlockProposal, result: BlockResult) -> None:
        self._look()
        self.events.append(("block", proposal, result))


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def observer() -> Observer:
    return Observer()


@pytest.fixture
def vm_plugin() -> ScriptVMPlugin:
    return ScriptVMPlugin()


@pytest.fixture
def kernel(observer: Observer, vm_plugin: ScriptVMPlugin) -> Iterator[Kernel]:
    with Kernel.from_plugins(
        discover=False,
        env={},
        extra=[
            ("scheduler_serial", scheduler_serial),
            ("dict_storage", DictStoragePlugin()),
            ("script_vm", vm_plugin),
            ("observer", observer),
        ],
    ) as kernel:
        yield kernel


def _memory_storage_plugin() -> object:
    module = pytest.importorskip("supervm_storage_memory")
    if not hasattr(module, "supervm_register_storage"):
        pytest.skip("supervm_storage_memory does not register a storage backend yet")
    return module


@pytest.fixture(params=["dict", "memory"])
def storage(request: pytest.FixtureRequest, kernel: Kernel, observer: Observer) -> SpyStorage:
    if request.param == "memory":
        with_memory = Kernel.from_plugins(
            discover=False, env={}, extra=[("storage_memory", _memory_storage_plugin())]
        )
        inner = with_memory.open_storage("memory")
    else:
        inner = kernel.open_storage("dict")
    spy = SpyStorage(inner)
    observer.storage = spy
    return spy


def script(text: str, vm: str = "script") -> Call:
    return Call(code=text.encode(), vm=vm)


def block(*calls: Call, number: int = 1) -> BlockProposal:
    return BlockProposal(number=number, timestamp=1_700_000_000, proposer=PROPOSER, calls=calls)


# -- tests -------------------------------------------------------------------------------------


def test_serial_is_the_default_scheduler(kernel: Kernel) -> None:
    assert kernel.default_name("scheduler") == "serial"
    assert isinstance(kernel.scheduler(), SerialScheduler)
    assert kernel.schedulers.entry("serial").plugin == "scheduler_serial"


def test_calls_run_in_order_on_one_overlay(
    kernel: Kernel, storage: SpyStorage, vm_plugin: ScriptVMPlugin
) -> None:
    result = kernel.execute_block(
        block(
            script("set a 1"),
            script("get a"),
            script("set a 2;set b x"),
            script("get a"),
            script("del b"),
        ),
        storage,
    )

    assert [r.return_data for r in result.results] == [b"", b"1", b"", b"2", b""]
    assert all(r.ok for r in result.results)
    (backend,) = vm_plugin.backends
    assert len(backend.states) == 5
    assert all(state is backend.states[0] for state in backend.states)
    assert storage.snapshot() == {b"a": b"2"}


def test_read_and_write_sets_are_per_call(kernel: Kernel, storage: SpyStorage) -> None:
    result = kernel.execute_block(block(script("set a 1"), script("get b;set c 3")), storage)

    first, second = result.results
    assert first.write_set == {b"a"}
    assert first.read_set == frozenset()
    assert second.read_set == {b"b"}
    assert second.write_set == {b"c"}


def test_failing_call_is_rolled_back_and_the_others_commit(
    kernel: Kernel, storage: SpyStorage
) -> None:
    result = kernel.execute_block(
        block(script("set a 1"), script("set b 2;set a 9;fail"), script("get a;set c 3")),
        storage,
    )

    ok, failed, after = result.results
    assert ok.ok and after.ok
    assert failed.error is not None and failed.error.kind is ErrorKind.REVERT
    # The failed call still reports what it touched, for conflict detection.
    assert failed.write_set == {b"a", b"b"}
    # The next call does not see the rolled-back write.
    assert after.return_data == b"1"
    assert storage.snapshot() == {b"a": b"1", b"c": b"3"}


def test_block_is_committed_in_one_write_batch(kernel: Kernel, storage: SpyStorage) -> None:
    storage.inner.write_batch([(b"old", b"x"), (b"gone", b"y")])
    result = kernel.execute_block(
        block(script("set k1 v1"), script("set k2 v2;del gone"), script("set k1 v3")),
        storage,
    )

    assert [r.ok for r in result.results] == [True, True, True]
    assert storage.batches == [[(b"gone", None), (b"k1", b"v3"), (b"k2", b"v2")]]
    assert storage.snapshot() == {b"k1": b"v3", b"k2": b"v2", b"old": b"x"}
    assert result.gas_used == 1 + 2 + 1


def test_observers_run_after_the_commit(
    kernel: Kernel, storage: SpyStorage, observer: Observer
) -> None:
    kernel.execute_block(block(script("set a 1"), script("set b 2")), storage)

    # Transaction and block observers all see the committed block.
    committed = {b"a": b"1", b"b": b"2"}
    assert observer.storage_seen == [committed, committed, committed]


def test_block_of_failed_calls_writes_nothing(kernel: Kernel, storage: SpyStorage) -> None:
    result = kernel.execute_block(block(script("set a 1;fail"), script("fail")), storage)

    assert [r.ok for r in result.results] == [False, False]
    assert storage.batches == []
    assert storage.snapshot() == {}


def test_empty_block(kernel: Kernel, storage: SpyStorage, observer: Observer) -> None:
    result = kernel.execute_block(block(), storage)

    assert result == BlockResult(results=(), gas_used=0)
    assert storage.batches == []
    assert [kind for kind, *_ in observer.events] == ["block"]


def test_observers_are_notified(kernel: Kernel, storage: SpyStorage, observer: Observer) -> None:
    proposal = block(script("set a 1"), script("fail"), script("set b 2"), number=7)
    result = kernel.execute_block(proposal, storage)

    assert [kind for kind, *_ in observer.events] == [
        "transaction",
        "transaction",
        "transaction",
        "block",
    ]
    transactions = observer.events[:3]
    assert [call for _, call, _ in transactions] == list(proposal.calls)
    assert [res for _, _, res in transactions] == list(result.results)
    assert observer.events[3] == ("block", proposal, result)


def test_unknown_vm_fails_the_call_not_the_block(
    kernel: Kernel, storage: SpyStorage, observer: Observer
) -> None:
    proposal = block(script("set a 1"), script("set b 2", vm="nope"), script("set c 3"))
    result = kernel.execute_block(proposal, storage)

    ok, failed, after = result.results
    assert ok.ok and after.ok
    assert failed.error is not None
    assert failed.error.kind is ErrorKind.INVALID_CALL
    assert "'nope'" in failed.error.message
    assert "script" in failed.error.message  # the available backends are named
    assert storage.snapshot() == {b"a": b"1", b"c": b"3"}
    # The failed call is observed like any other.
    assert observer.events[1] == ("transaction", proposal.calls[1], failed)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("callerror", ErrorKind.INVALID_CALL),
        ("moduleerror", ErrorKind.INVALID_MODULE),
        ("not a script at all", ErrorKind.INVALID_MODULE),
    ],
)
def test_backend_errors_fail_the_call_not_the_block(
    kernel: Kernel, storage: SpyStorage, code: str, kind: ErrorKind
) -> None:
    result = kernel.execute_block(
        block(script("set a 1"), script(code), script("set c 3")), storage
    )

    assert [r.ok for r in result.results] == [True, False, True]
    error = result.results[1].error
    assert error is not None and error.kind is kind
    assert storage.snapshot() == {b"a": b"1", b"c": b"3"}
    assert len(storage.batches) == 1


def test_storage_failure_leaves_storage_unchanged_and_skips_observers(
    kernel: Kernel, observer: Observer
) -> None:
    inner = kernel.open_storage("dict")
    storage = SpyStorage(inner, fail=True)

    with pytest.raises(StorageError, match="disk on fire"):
        kernel.execute_block(block(script("set a 1")), storage)

    assert inner.get(b"a") is None
    assert observer.events == []


def test_backend_is_built_once_and_closed_with_the_kernel(
    observer: Observer, vm_plugin: ScriptVMPlugin
) -> None:
    kernel = Kernel.from_plugins(
        discover=False,
        env={},
        extra=[("scheduler_serial", scheduler_serial), ("script_vm", vm_plugin)],
    )
    storage = DictStorage()
    kernel.execute_block(block(script("set a 1"), script("set b 2")), storage)
    kernel.execute_block(block(script("set c 3"), number=2), storage)

    (backend,) = vm_plugin.backends
    assert kernel.vm("script") is backend
    kernel.close()
    assert backend.closed


def test_explicit_scheduler_is_not_closed(kernel: Kernel) -> None:
    closed: list[bool] = []

    class Recording(SerialScheduler):
        def close(self) -> None:
            closed.append(True)

    scheduler = Recording()
    storage = DictStorage()
    kernel.execute_block(block(script("set a 1")), storage, scheduler)
    assert closed == []
    assert storage.data == {b"a": b"1"}


def test_scheduler_used_directly_with_an_executor(kernel: Kernel) -> None:
    storage = SpyStorage(DictStorage())
    result = SerialScheduler().execute_block(
        [script("set a 1"), script("get a")], storage, kernel.executor()
    )

    assert [r.return_data for r in result.results] == [b"", b"1"]
    assert len(storage.batches) == 1


def test_kernel_execute_commits_only_successful_calls(kernel: Kernel) -> None:
    storage = SpyStorage(DictStorage())

    ok = kernel.execute(b"set a 1", storage, vm="script")
    failed = kernel.execute(b"set b 2;fail", storage, vm="script")

    assert ok.ok and not failed.ok
    assert storage.snapshot() == {b"a": b"1"}
    assert storage.batches == [[(b"a", b"1")]]

    overlay = StateOverlay(storage)
    kernel.execute(b"set c 3", overlay, vm="script")
    assert storage.get(b"c") is None  # buffered in the overlay for the caller to commit
    overlay.commit()
    assert storage.get(b"c") == b"3"


class Raising:
    def __init__(self, where: str) -> None:
        self.where = where

    @hookimpl
    def supervm_observe_transaction(self, call: Call, result: ExecutionResult) -> None:
        if self.where == "transaction":
            raise RuntimeError("observer failed")

    @hookimpl
    def supervm_observe_block(self, proposal: BlockProposal, result: BlockResult) -> None:
        if self.where == "block":
            raise RuntimeError("observer failed")


def _kernel_with_raising_observer(where: str) -> Kernel:
    return Kernel.from_plugins(
        discover=False,
        env={},
        extra=[
            ("scheduler_serial", scheduler_serial),
            ("script_vm", ScriptVMPlugin()),
            ("raising", Raising(where)),
        ],
    )


def test_transaction_observer_exception_reaches_the_caller_after_commit() -> None:
    storage = SpyStorage(DictStorage())
    with pytest.raises(RuntimeError, match="observer failed"):
        _kernel_with_raising_observer("transaction").execute_block(
            block(script("set a 1")), storage
        )
    assert storage.snapshot() == {b"a": b"1"}


def test_block_observer_exception_reaches_the_caller_after_commit() -> None:
    storage = SpyStorage(DictStorage())
    with pytest.raises(RuntimeError, match="observer failed"):
        _kernel_with_raising_observer("block").execute_block(block(script("set a 1")), storage)
    assert storage.snapshot() == {b"a": b"1"}
