"""The execution interfaces plugins implement: execution backends and schedulers.

Storage backends implement :class:`supervm.state.storage.Storage`; consensus engines
:class:`supervm.chain.consensus.ConsensusEngine`. Each area's factory is registered by name
through the matching ``supervm_register_*`` hook (see :mod:`supervm.plugins.hookspecs`).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs

from supervm.execution.host import HostFunction
from supervm.model import BlockResult, Call, ExecutionContext, ExecutionResult
from supervm.state.overlay import StateOverlay
from supervm.state.storage import Storage

if TYPE_CHECKING:
    from supervm.execution.dispatch import Dispatcher
    from supervm.kernel import Kernel


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (0 < value < math.inf):
        raise ValueError(f"{attribute.name} must be positive and finite, got {value!r}")


@attrs.frozen
class VMSettings:
    """Engine settings common to execution backends.

    :param max_memory: maximum linear memory of one instance, in bytes.
    :param max_code_size: largest accepted module, in bytes.
    :param max_stack: maximum native stack a call may use, in bytes.
    :param timeout: wall-clock backstop for one call, in seconds.
    :param cache_dir: where compiled modules are cached on disk; ``None`` disables the disk cache.
    :param options: backend-specific options.
    """

    max_memory: int = attrs.field(default=16 * 1024 * 1024, validator=_positive)
    max_code_size: int = attrs.field(default=4 * 1024 * 1024, validator=_positive)
    max_stack: int = attrs.field(default=512 * 1024, validator=_positive)
    timeout: float = attrs.field(default=10.0, validator=_positive)
    cache_dir: str | None = None
    # Excluded from the hash (a dict is unhashable) so settings can key Kernel.vm's cache.
    options: Mapping[str, str] = attrs.field(factory=dict, hash=False)


class ExecutionBackend(abc.ABC):
    """A virtual machine that executes contract code against the state overlay."""

    @abc.abstractmethod
    def accepts(self, code: bytes) -> bool:
        """Whether this backend runs ``code`` (the WASM backend: code starting with ``\\0asm``)."""

    @abc.abstractmethod
    def validate(self, code: bytes) -> None:
        """Check ``code`` loads (imports known, limits respected); raise ModuleError if not."""

    @abc.abstractmethod
    def exports(self, code: bytes) -> frozenset[str]:
        """The entry points ``code`` exports (raises ModuleError for bad code)."""

    @abc.abstractmethod
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
        """Run ``entry`` of ``code`` with ``args`` and ``input``.

        The call runs in a snapshot of ``state``: its writes are kept on success and rolled back
        on any failure (trap, revert, out of gas). Malformed code or calls raise
        :class:`~supervm.errors.ModuleError` or :class:`~supervm.errors.CallError` and change
        nothing; failures during execution are reported in the result's ``error``.
        """

    def precompiles(self) -> frozenset[bytes]:
        """The addresses without code this backend runs as precompiled contracts.

        An EVM backend has Ethereum's (``0x01`` ecrecover to ``0x0a`` point evaluation). A call
        to one of them, from a transaction or from a contract of any engine, is executed by
        this backend with empty ``code`` and ``context.address`` the precompile's address.
        """
        return frozenset()

    def bind_dispatcher(self, dispatcher: Dispatcher) -> None:  # noqa: B027 - optional
        """Receive the dispatcher that finds the backend for any code.

        The kernel calls it once, when it builds the backend, so that a contract can call a
        contract of another engine: a backend's host functions for calls go through
        ``dispatcher.backend_for(code)``. Backends that make no calls ignore it.
        """

    def close(self) -> None:  # noqa: B027 - optional
        """Release engine resources."""


#: Builds an execution backend from settings and the host functions of every enabled plugin.
VMFactory = Callable[[VMSettings, Sequence[HostFunction]], ExecutionBackend]

Item_contra = TypeVar("Item_contra", contravariant=True)


class Executor(Protocol[Item_contra]):
    """Runs one item of a block (a :class:`~supervm.model.Call`, a transaction) on a state.

    Schedulers call it and may use what it declares here, nothing else: :attr:`kernel` and
    :attr:`settings` let a parallel scheduler build the same executor in a worker process.

    **Rebuilding in another process.** An executor may also have a method ``spec()`` returning
    an :class:`ExecutorSpec` (see :class:`RebuildableExecutor`): a picklable record of how to
    build an executor that behaves exactly like it, given the other process's kernel. A
    parallel scheduler ships the spec (plain pickle) to its workers and runs
    ``spec.rebuild(kernel)`` there; an executor without ``spec()`` can only be run in
    parallel on :class:`~supervm.model.Call` items, for which workers use
    ``kernel.executor(settings)``. The kernel's :class:`~supervm.execution.executor.CallExecutor`
    and :class:`~supervm.chain.processor.TransactionExecutor` (whose spec carries the block's
    :class:`~supervm.chain.processor.BlockEnv`) have one. The spec names its factory by
    import path, so it must be a module-level callable that the worker (which loads the
    installed plugins, nothing else) can import.
    """

    @property
    def kernel(self) -> Kernel:
        """The kernel whose backends execute the items."""

    @property
    def settings(self) -> VMSettings | None:
        """The VM settings items run with (``None``: the defaults)."""

    def __call__(self, item: Item_contra, state: StateOverlay, /) -> ExecutionResult:
        """Execute ``item`` on ``state``; a bad item becomes a failed result, never a raise."""


@attrs.frozen
class ExecutorSpec:
    """How to build an executor again in another process: ``factory(kernel, *args)``.

    Plain data, so that it pickles: the factory travels by its import path (a class or a
    module-level function), the arguments by value (settings, a block's environment). Specs
    compare by value, so a scheduler ships one to its workers only when it changed.

    :param factory: builds the executor from a kernel and ``args``.
    :param args: the factory's arguments after the kernel.
    """

    factory: Callable[..., Executor[Any]]
    args: tuple[Any, ...] = ()

    def rebuild(self, kernel: Kernel) -> Executor[Any]:
        """The executor this spec describes, on ``kernel``."""
        return self.factory(kernel, *self.args)


class RebuildableExecutor(Executor[Item_contra], Protocol[Item_contra]):
    """An :class:`Executor` that says how to build it again elsewhere (see :class:`Executor`)."""

    def spec(self) -> ExecutorSpec:
        """A picklable description from which :meth:`ExecutorSpec.rebuild` makes an executor
        that executes every item exactly as this one does."""


@attrs.frozen
class SchedulerSettings:
    """Scheduler settings.

    :param workers: worker count for parallel schedulers; ``None`` means one per core.
    :param options: scheduler-specific options.
    """

    workers: int | None = None
    options: Mapping[str, str] = attrs.field(factory=dict)


class Scheduler(abc.ABC):
    """Orders and executes a block's items (calls, transactions) on the block's state.

    A scheduler never writes storage: :meth:`run_block` leaves the block's net changes buffered
    in the state it is given, and the block pipeline commits them together with the block's
    body, receipts and head in one batch. :meth:`execute_block` is the shortcut for code that
    has no pipeline: run a block on a storage and commit it.
    """

    @abc.abstractmethod
    def run_block(
        self, items: Sequence[Any], state: StateOverlay, executor: Executor[Any]
    ) -> BlockResult:
        """Execute ``items`` with ``executor`` on ``state``, leaving the changes buffered.

        The state and the results must equal those of executing the items one after another
        in order (the serial scheduler). ``state`` may already hold buffered changes (a
        scheduler that cannot work with them runs the block serially).
        """

    def execute_block(
        self, calls: Sequence[Call], storage: Storage, executor: Executor[Call]
    ) -> BlockResult:
        """Run ``calls`` on a fresh overlay of ``storage`` and commit the block in one batch."""
        state = StateOverlay(storage)
        result = self.run_block(calls, state, executor)
        state.commit()
        return result

    def close(self) -> None:  # noqa: B027 - optional
        """Stop workers and release resources."""


SchedulerFactory = Callable[[SchedulerSettings], Scheduler]
