"""The ``wasm-native`` execution backend: the wasmtime backend with its hot path in C.

A module whose every import is a host function implemented in C (``_native.native_functions()``,
bound to exactly the kernel's :class:`~supervm.HostFunction` of that name and price) runs on the
native path: a C linker over the same engine, C host functions, results built in C. Any other
module (one importing a host function a plugin defines in Python, or a core function a plugin
replaced) runs on the Python backend this one wraps, so third-party host functions keep working.
Loading, validation, the compiled-module cache and the epoch ticker are the Python backend's,
so both paths accept and reject exactly the same modules.
"""

from __future__ import annotations

import ctypes
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from supervm import (
    Call,
    CallError,
    ExecutionBackend,
    ExecutionContext,
    ExecutionResult,
    HostFunction,
    ModuleError,
    StateOverlay,
    VMSettings,
)
from supervm.execution.host import HOST_MODULE
from supervm.execution.snapshot import gc_paused
from supervm_wasm_wasmtime import WasmtimeBackend
from supervm_wasm_wasmtime import abi as python_abi
from supervm_wasm_wasmtime import crypto as python_crypto
from supervm_wasm_wasmtime.backend import EPOCH_TICK

from .binding import NativeStatus, NativeUnavailableError, native_module, native_status

log = logging.getLogger("supervm.native")

#: Instances per store before the store is replaced. The engine's pool (256 slots) is shared
#: with the Python backend's store, which holds up to 100.
INSTANCES_PER_STORE = 100
#: Compiled modules whose native pre-link is kept.
MAX_MODULES = 512
#: ``VMSettings.options["native"]``: ``auto`` (native when possible), ``off`` (always the
#: Python path), ``require`` (fail when the native core is unavailable).
NATIVE_OPTION = "native"

_INT_RANGES = {"i32": (-(2**31), 2**31 - 1), "i64": (-(2**63), 2**63 - 1)}
_LETTERS = {"i32": "i", "i64": "I"}
_RESULT_KIND = {(): -1, ("i32",): 0, ("i64",): 1}
_MISSING = object()
#: The most threads a block runs on (the C side's bound).
MAX_BLOCK_THREADS = 8


@attrs.frozen
class BlockRunStats:
    """What the native block executor did for one block.

    :param threads: threads the block ran on.
    :param executions: executions in total (first runs and re-executions).
    :param reexecutions: calls run again because a value they read had changed.
    :param misses: keys read from the state during the block (under the GIL).
    :param fill_seconds: time spent on those reads, GIL included.
    :param serial_from: the call from which the committer ran the rest alone (the re-execution
        bound was hit); the block's length when it never was.
    :param keys: keys in the block's state cache.
    :param seconds: wall time of the threaded phase.
    :param setup_seconds: reading the calls and prefetching, before it.
    :param build_seconds: building the results and applying the changes, after it.
    :param built_during: results the caller's thread built during the threaded phase, while
        the other threads executed (the rest are built after it).
    """

    threads: int
    executions: int
    reexecutions: int
    misses: int
    fill_seconds: float
    serial_from: int
    keys: int
    seconds: float
    setup_seconds: float
    build_seconds: float
    built_during: int = 0


@attrs.frozen
class BlockRun:
    """A block run by :meth:`NativeWasmBackend.execute_block`.

    :param results: the calls' results in block order; ``None`` when the block was abandoned
        (the overlay is then untouched and the caller runs the block another way).
    :param abandoned: why the block was abandoned (the state cache full, a failing storage).
    :param stats: what the executor did.
    """

    results: list[ExecutionResult] | None
    abandoned: str | None
    stats: BlockRunStats


def native_functions(
    host_functions: Sequence[HostFunction], implemented: Sequence[Any]
) -> dict[str, int]:
    """The host functions the native path may stand in for: name -> base gas.

    A function counts only if it is the wasmtime plugin's own implementation (same object, same
    module and name), at its documented price and signature: a plugin that replaced or wrapped
    one gets its Python function, on the Python path.

    :param host_functions: the kernel's host functions.
    :param implemented: ``(name, params, results)`` of the C implementations.
    """
    signatures = {name: (params, results) for name, params, results in implemented}
    found: dict[str, int] = {}
    for fn in host_functions:
        if fn.module != HOST_MODULE or fn.name not in signatures:
            continue
        source = python_abi if fn.name in python_abi.GAS else python_crypto
        prices: Mapping[str, int] = source.GAS
        reference = getattr(source, fn.name, None)
        params, results = signatures[fn.name]
        if (
            fn.impl is reference
            and getattr(reference, "__module__", None) == source.__name__
            and getattr(reference, "__qualname__", None) == fn.name
            and fn.gas == prices.get(fn.name)
            and "".join(_LETTERS[t] for t in fn.params) == params
            and "".join(_LETTERS[t] for t in fn.results) == results
        ):
            found[fn.name] = fn.gas
    return found


class _Entry:
    """A checked export: its name for the C API, parameter letters and result kind."""

    __slots__ = ("name", "params", "result", "types")

    def __init__(self, name: str, params: tuple[str, ...], results: tuple[str, ...]) -> None:
        self.name = name.encode()
        self.types = params
        self.params = "".join(_LETTERS[t] for t in params).encode()
        self.result = _RESULT_KIND[results]


class _NativeModule:
    """A module on the native path: its pre-linked handle and what its calls need."""

    __slots__ = ("entries", "exports", "handle", "has_initialize", "has_memory")

    def __init__(self, handle: Any, loaded: Any) -> None:
        self.handle = handle
        self.exports: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = loaded.exports
        self.has_memory: bool = loaded.has_memory
        self.has_initialize: bool = loaded.has_initialize
        self.entries: dict[str, _Entry] = {}


def _check_entry(entry: str, params: tuple[str, ...], results: tuple[str, ...]) -> _Entry:
    """The wasmtime backend's checks of an export's signature, with its messages."""
    if len(results) > 1:
        raise CallError(f"export {entry!r} returns {len(results)} values; at most one is supported")
    for t in params:
        if t not in ("i32", "i64"):
            raise CallError(f"export {entry!r} takes a {t} argument; only integers are supported")
    for t in results:
        if t not in ("i32", "i64"):
            raise CallError(f"export {entry!r} returns {t}; only integer results are supported")
    return _Entry(entry, params, results)


def _check_args(entry: str, types: tuple[str, ...], args: Sequence[int]) -> tuple[int, ...]:
    """The wasmtime backend's checks of call arguments, with its messages."""
    if len(args) != len(types):
        raise CallError(
            f"export {entry!r} takes {len(types)} argument(s) ({', '.join(types) or 'none'}), "
            f"got {len(args)}"
        )
    for i, (t, value) in enumerate(zip(types, args, strict=True)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise CallError(f"argument {i} of {entry!r} must be an integer, got {value!r}")
        low, high = _INT_RANGES[t]
        if not low <= value <= high:
            raise CallError(
                f"argument {i} of {entry!r} ({value}) does not fit in {t}: "
                f"it must be between {low} and {high}"
            )
    return tuple(int(a) for a in args)


def _plain_overlay(kind: type) -> bool:
    """Whether ``kind`` reads and applies changes exactly as :class:`StateOverlay` does.

    For such a state the extension reads the layers and writes the innermost one itself, which
    is what ``get`` and ``apply`` would do; a class overriding either (a recording view, say)
    is called through its methods.
    """
    return (
        issubclass(kind, StateOverlay)
        and kind.get is StateOverlay.get
        and kind.apply is StateOverlay.apply
        and kind.peek is StateOverlay.peek
    )


def _address(handle: Any) -> int:
    return ctypes.cast(handle, ctypes.c_void_p).value or 0


class NativeWasmBackend(ExecutionBackend):
    """WebAssembly with SuperVM's host ABI, the hot host functions in C.

    Results equal the ``wasm`` backend's (values, return data, events, logs, gas, read and write
    sets, errors, state). One call at a time, like the wasmtime backend.
    """

    def __init__(self, settings: VMSettings, host_functions: Sequence[HostFunction]) -> None:
        self.settings = settings
        #: The reference path: loads every module, and runs those that are not native.
        self.python = WasmtimeBackend(settings, host_functions)
        mode = settings.options.get(NATIVE_OPTION, "auto")
        if mode not in ("auto", "off", "require"):
            raise ValueError(f"option {NATIVE_OPTION!r} must be auto, off or require, got {mode!r}")
        status = native_status() if mode != "off" else NativeStatus(False, "disabled by option")
        if mode == "require" and not status.available:
            raise NativeUnavailableError(status.reason)
        self.status = status
        self.native_functions: dict[str, int] = {}
        self._runtime: Any = None
        if status.available:
            native = native_module()
            self.native_functions = native_functions(host_functions, native.native_functions())
            engine = self.python.engine
            self._runtime = native.Runtime(
                _address(engine.ptr()),
                engine,
                self.native_functions,
                settings.max_memory,
                math.ceil(settings.timeout / EPOCH_TICK) + 1,
                f"call exceeded the wall-clock limit of {settings.timeout:g} s",
                INSTANCES_PER_STORE,
            )
        elif mode != "off":
            log.warning("%s", status.describe())
        self._natives: dict[bytes, _NativeModule | None] = {}
        self._fast_states: dict[type, bool] = {}
        # code -> (handle, result kind, has_memory, has_initialize) of modules whose "call"
        # takes no arguments: transactions on these skip this class's execute (see native.c).
        self._fast_calls: dict[bytes, tuple[Any, int, bool, bool]] = {}
        self._closed = False
        if self._runtime is not None:
            self.execute = self._runtime.dispatcher(  # type: ignore[method-assign]
                self._execute, self._fast_calls, self._fast_states
            )

    @property
    def engine_kind(self) -> str:
        """``native`` when the native core runs here, else ``python``."""
        return "native" if self._runtime is not None else "python"

    def runs_natively(self, code: bytes) -> bool:
        """Whether calls of ``code`` take the native path (raises ModuleError for bad code)."""
        return self._native_for(code) is not None

    # -- blocks --------------------------------------------------------------------------------

    def block_plan(self, calls: Sequence[Call]) -> list[tuple[Any, ...]] | None:
        """What the block executor runs for ``calls``, or ``None`` if one cannot run natively.

        Every call must be a transaction (entry ``call``, no arguments) of a module that runs
        natively; invalid code, another entry point or a module importing a host function that
        is not in C sends the whole block to the Python path, which gives those calls their
        usual results.
        """
        if self._runtime is None or self._closed:
            return None
        plan: list[tuple[Any, ...]] = []
        fast_calls = self._fast_calls
        for call in calls:
            code = call.code
            if call.entry != "call" or call.args or type(code) is not bytes:
                return None
            if call.context.static:  # the C host functions do not refuse writes
                return None
            fast = fast_calls.get(code)
            if fast is None:
                fast = self._transaction(code)
                if fast is None:
                    return None
            data = call.input if type(call.input) is bytes else bytes(call.input)
            plan.append((fast[0], call.context, data, fast[1], fast[2], fast[3]))
        return plan

    def _transaction(self, code: bytes) -> tuple[Any, int, bool, bool] | None:
        """Register ``code``'s ``call`` export for the fast path, if it runs natively."""
        try:
            native = self._native_for(code)
        except ModuleError:
            return None
        if native is None:
            return None
        spec = native.entries.get("call")
        if spec is None:
            signature = native.exports.get("call")
            if signature is None:
                return None
            try:
                spec = native.entries["call"] = _check_entry("call", *signature)
            except CallError:
                return None
        if spec.types:
            return None
        entry = (native.handle, spec.result, native.has_memory, native.has_initialize)
        self._fast_calls[code] = entry
        return entry

    def execute_block(
        self,
        calls: Sequence[Call],
        state: StateOverlay,
        *,
        threads: int = 2,
        max_reexecutions: float = 0.5,
        prefetch: Iterable[bytes] = (),
    ) -> BlockRun | None:
        """Run ``calls`` in block order on ``state``, on native threads, as serially.

        The results, the overlay's buffered changes and its read and write sets equal running
        the calls one after another with :meth:`execute` (docs/native.md, "The block
        executor"). ``None`` when the block cannot run natively (see :meth:`block_plan`, and the
        state must be a plain :class:`StateOverlay`): run it the ordinary way.

        :param threads: threads to run on (the caller's among them).
        :param max_reexecutions: past this share of the block re-executed, or of the
            speculative results checked so far (after the first 32: a hot spot), the rest
            runs on one thread, in order.
        :param prefetch: keys to read into the block's state cache before it starts (a
            declared access list, say); others are read on their first use.
        """
        if self._closed:
            raise RuntimeError("backend is closed")
        kind = type(state)
        fast = self._fast_states.get(kind)
        if fast is None:
            fast = self._fast_states[kind] = _plain_overlay(kind)
        if not fast:
            return None
        threads = max(1, min(int(threads), MAX_BLOCK_THREADS))
        # The plan and the results are many small objects: no collector passes over them while
        # they are made (as the serial scheduler does for a block), and the plan is gone before
        # it resumes (the results are built untracked: they cannot form cycles).
        with gc_paused():
            plan = self.block_plan(calls)
            if plan is None:
                return None
            results, abandoned, raw = self._runtime.execute_block(
                plan, state, threads, float(max_reexecutions), list(prefetch)
            )
            del plan
        stats = BlockRunStats(threads=threads, **raw)
        if abandoned is not None:
            log.info("native block abandoned (%s): it runs another way", abandoned)
        return BlockRun(results, abandoned, stats)

    # -- ExecutionBackend --------------------------------------------------------------------

    def accepts(self, code: bytes) -> bool:
        """WASM code starts with the ``\\0asm`` magic."""
        return self.python.accepts(code)

    def validate(self, code: bytes) -> None:
        """Load ``code``, raising :class:`~supervm.ModuleError` if it is not acceptable."""
        self.python.validate(code)

    def exports(self, code: bytes) -> frozenset[str]:
        """The functions ``code`` exports."""
        return self.python.exports(code)

    def bind_dispatcher(self, dispatcher: Any) -> None:
        """Hand the dispatcher to the Python path (its host functions make the calls)."""
        self.python.bind_dispatcher(dispatcher)

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
        """Run ``entry`` in a fresh instance of ``code`` inside a snapshot of ``state``.

        With the native core an instance attribute stands in for this method: it runs a
        transaction (``call``, no arguments) of a native module on a plain overlay in C, and
        hands every other call to :meth:`_execute`.
        """
        return self._execute(code, state, context, entry=entry, args=args, input=input)

    def _execute(
        self,
        code: bytes,
        state: StateOverlay,
        context: ExecutionContext,
        *,
        entry: str = "call",
        args: Sequence[int] = (),
        input: bytes = b"",
    ) -> ExecutionResult:
        if self._closed:
            raise RuntimeError("backend is closed")
        if context.static:
            # A static call (call_static, and everything it calls) may not change state; the
            # Python path's host functions refuse writes in one, the C ones do not check.
            return self.python.execute(code, state, context, entry=entry, args=args, input=input)
        native = self._natives.get(code, _MISSING) if type(code) is bytes else _MISSING
        if native is _MISSING:
            native = self._native_for(code)
        if native is None:
            return self.python.execute(code, state, context, entry=entry, args=args, input=input)
        assert isinstance(native, _NativeModule)
        spec = native.entries.get(entry)
        if spec is None:
            signature = native.exports.get(entry)
            if signature is None:
                names = ", ".join(sorted(native.exports)) or "none"
                raise CallError(f"module has no exported function {entry!r} (exports: {names})")
            spec = native.entries[entry] = _check_entry(entry, *signature)
            if entry == "call" and not spec.types and type(code) is bytes:
                self._fast_calls[code] = (
                    native.handle,
                    spec.result,
                    native.has_memory,
                    native.has_initialize,
                )
        checked = _check_args(entry, spec.types, args) if (args or spec.types) else ()
        if type(input) is not bytes:
            input = bytes(input)
        kind = type(state)
        fast = self._fast_states.get(kind)
        if fast is None:
            fast = self._fast_states[kind] = _plain_overlay(kind)
        return self._runtime.execute(  # type: ignore[no-any-return]
            native.handle,
            state,
            context,
            spec.name,
            spec.params,
            spec.result,
            checked,
            input,
            native.has_memory,
            native.has_initialize,
            fast,
        )

    def _native_for(self, code: bytes) -> _NativeModule | None:
        """Load ``code`` through the Python backend and pre-link it natively if it can be."""
        loaded = self.python.modules.get(code)  # validation: raises ModuleError
        key = code if type(code) is bytes else bytes(code)
        found = self._natives.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        native: _NativeModule | None = None
        if self._runtime is not None and all(
            imp.module == HOST_MODULE and imp.name in self.native_functions
            for imp in loaded.module.imports
        ):
            self._ensure_ticker()
            handle = self._runtime.prepare(_address(loaded.module.ptr()), loaded.module)
            native = _NativeModule(handle, loaded)
        if len(self._natives) >= MAX_MODULES:
            oldest = next(iter(self._natives))
            self._natives.pop(oldest)
            self._fast_calls.pop(oldest, None)
        self._natives[key] = native
        return native

    def _ensure_ticker(self) -> None:
        # The epoch ticker belongs to the engine's owner, the Python backend; native calls need
        # it running before their first call (deadlines count its ticks).
        if self.python._ticker is None:
            self.python._start_ticker()

    def close(self) -> None:
        """Free the native runtime, then the Python backend."""
        if self._closed:
            return
        self._closed = True
        self._natives.clear()
        self._fast_calls.clear()
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        self.python.close()
