"""The WebAssembly execution backend on wasmtime.

Each call gets a fresh instance (so no state leaks between calls), made cheap by a pooling
allocator and pre-linked modules. Host functions are raw C callbacks generated per signature;
gas is wasmtime fuel plus host charges counted in Python.
"""

from __future__ import annotations

import math
import threading
import time
import typing
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import wasmtime
from supervm import (
    CallError,
    ErrorKind,
    ExecutionBackend,
    ExecutionContext,
    ExecutionError,
    ExecutionResult,
    HostFunction,
    HostTrap,
    OutOfGas,
    Revert,
    StateOverlay,
    VMSettings,
    execute_with_snapshot,
)

from . import raw
from .frame import Frame
from .modules import INITIALIZE, WASM_MAGIC, ModuleCache, default_cache_dir

if TYPE_CHECKING:
    from supervm.execution.dispatch import Dispatcher

INITIALIZE_NAME = INITIALIZE.encode()


class FrameSlot:
    """Where host callbacks find the running call's frame."""

    __slots__ = ("frame",)

    def __init__(self) -> None:
        self.frame: Frame | None = None


#: How often the epoch ticker advances the engine's clock, in seconds.
EPOCH_TICK = 0.05
#: Instances per store before the store is replaced (slots return to the pool on drop).
INSTANCES_PER_STORE = 100
POOL_INSTANCES = 512
#: WebAssembly calls this backend runs nested inside one another (a contract calling a
#: contract calling ...). Nested calls share the outermost call's store, and so its native
#: stack budget (``VMSettings.max_stack``) with the host frames between them; this limit keeps
#: every nesting well inside that budget, so a deep call fails the same way on every machine.
MAX_NESTED_DEPTH = 64
#: Nested instances one outermost call may create. A store frees its instances only when it is
#: dropped, and nested calls cannot leave the outermost call's store, so this bounds the pool
#: slots one transaction holds (see POOL_INSTANCES: the store's own, a wasm-native store's, and
#: these must fit).
MAX_NESTED_INSTANCES = 256

_TRAP_MESSAGES = {
    "UNREACHABLE": "unreachable instruction executed",
    "INTEGER_DIVISION_BY_ZERO": "integer division by zero",
    "INTEGER_OVERFLOW": "integer overflow",
    "MEMORY_OUT_OF_BOUNDS": "out-of-bounds memory access",
    "HEAP_MISALIGNED": "misaligned memory access",
    "STACK_OVERFLOW": "stack overflow: call stack exhausted",
    "TABLE_OUT_OF_BOUNDS": "out-of-bounds table access",
    "INDIRECT_CALL_TO_NULL": "indirect call to a null table entry",
    "BAD_SIGNATURE": "indirect call signature mismatch",
    "BAD_CONVERSION_TO_INTEGER": "invalid conversion to integer",
}
#: Integer arguments take the signed range of their type, the range results are read back in,
#: so a value cannot silently wrap (4294967295 would reach an i32 export as -1).
_INT_RANGES = {"i32": (-(2**31), 2**31 - 1), "i64": (-(2**63), 2**63 - 1)}


class WasmtimeBackend(ExecutionBackend):
    """Runs WebAssembly contracts with SuperVM's host ABI.

    A backend runs one call at a time (calls made from inside host functions nest); use one
    backend per thread, or processes for parallelism, as the parallel scheduler does.
    """

    def __init__(self, settings: VMSettings, host_functions: Sequence[HostFunction]) -> None:
        self.settings = settings
        # Callbacks reach the running frame through this slot, not through the backend, so the
        # backend is not in a reference cycle with its own callbacks and is freed promptly.
        self._slot = FrameSlot()
        self.engine = raw.pooled_engine(
            max_memory=settings.max_memory,
            max_stack=settings.max_stack,
            pool_instances=POOL_INSTANCES,
        )
        self._linker = raw.Linker(self.engine)
        self.host_functions = tuple(host_functions)
        for fn in self.host_functions:
            functype = wasmtime.FuncType(
                [_valtype(t) for t in fn.params], [_valtype(t) for t in fn.results]
            )
            self._linker.define(fn.module, fn.name, functype, self._callback(fn))
        if settings.cache_dir is None:
            cache_dir: Path | None = default_cache_dir()
        else:
            cache_dir = Path(settings.cache_dir) if settings.cache_dir else None
        self.modules = ModuleCache(
            self.engine,
            self._linker,
            self.host_functions,
            engine_fingerprint=repr((settings.max_memory, settings.max_stack, POOL_INSTANCES)),
            max_code_size=settings.max_code_size,
            max_memory=settings.max_memory,
            cache_dir=cache_dir,
        )
        self._session: raw.Session | None = None
        self._dispatcher: Dispatcher | None = None
        # Nested calls now running, and nested instances made in the current outermost call.
        self._depth = 0
        self._nested_instances = 0
        self._views: dict[int, memoryview] = {}
        self._deadline_ticks = max(1, math.ceil(2 * settings.timeout / EPOCH_TICK)) + 1
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False

    # -- host functions ----------------------------------------------------------------------

    def _callback(self, fn: HostFunction) -> Any:
        """A raw callback for ``fn``, generated so each call reads its arguments directly."""
        readers = [
            f"w[{2 * i}] & 0xFFFFFFFF" if t == "i32" else f"w[{2 * i}]"
            for i, t in enumerate(fn.params)
        ]
        store = "w[0] = r" if fn.results else "pass"
        source = (
            "def callback(env, caller, a, n):\n"
            "    frame = slot.frame\n"
            "    w = a.contents\n"
            "    try:\n"
            "        g = frame.host_gas + GAS\n"
            "        frame.host_gas = g\n"
            "        if g > frame.gas_limit:\n"
            "            raise OutOfGas(f'out of gas: limit {frame.gas_limit}')\n"
            f"        r = impl(frame{''.join(', ' + r for r in readers)})\n"
            f"        {store}\n"
            "        return 0\n"
            "    except BaseException as exc:\n"
            "        frame.error = (NAME, exc)\n"
            "        return new_trap(NAME)\n"
        )
        namespace: dict[str, Any] = {
            "slot": self._slot,
            "impl": fn.impl,
            "GAS": fn.gas,
            "NAME": fn.qualified_name,
            "OutOfGas": OutOfGas,
            "new_trap": raw.new_trap,
        }
        exec(compile(source, f"<host function {fn.qualified_name}>", "exec"), namespace)
        return namespace.pop("callback")

    # -- ExecutionBackend --------------------------------------------------------------------

    def accepts(self, code: bytes) -> bool:
        """WASM code starts with the ``\\0asm`` magic."""
        return code[:4] == WASM_MAGIC

    def validate(self, code: bytes) -> None:
        """Load ``code``, raising :class:`~supervm.ModuleError` if it is not acceptable."""
        self.modules.get(code)

    def exports(self, code: bytes) -> frozenset[str]:
        """The functions ``code`` exports."""
        return frozenset(self.modules.get(code).exports)

    def bind_dispatcher(self, dispatcher: Dispatcher) -> None:
        """Keep the dispatcher the ``call_*`` host functions find the callee's engine with."""
        self._dispatcher = dispatcher

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
        """Run ``entry`` in a fresh instance of ``code`` inside a snapshot of ``state``."""
        if self._closed:
            raise RuntimeError("backend is closed")
        loaded = self.modules.get(code)
        signature = loaded.exports.get(entry)
        if signature is None:
            names = ", ".join(sorted(loaded.exports)) or "none"
            raise CallError(f"module has no exported function {entry!r} (exports: {names})")
        params, results = signature
        if args or params:
            buffer = _arguments(entry, params, results, args)
        else:
            # Calls without arguments (every transaction entry) share one checked buffer.
            buffer = loaded.buffers.get(entry)
            if buffer is None:
                buffer = loaded.buffers[entry] = _arguments(entry, params, results, args)
        if self._ticker is None:
            self._start_ticker()
        if self._slot.frame is not None:
            self._check_nesting()
        outer_reads, outer_writes = state.reads, state.writes
        state.reads, state.writes = set(), set()
        frame = Frame(context, state, input, None, self._dispatcher)
        try:
            return execute_with_snapshot(state, self._run, loaded, frame, entry, buffer, results)
        finally:
            outer_reads |= state.reads
            outer_writes |= state.writes
            state.reads, state.writes = outer_reads, outer_writes

    def _check_nesting(self) -> None:
        """Refuse a nested call past the limits (before anything runs, so nothing changes)."""
        if self._depth >= MAX_NESTED_DEPTH:
            raise CallError(
                f"WebAssembly calls nested more than {MAX_NESTED_DEPTH} deep in one backend"
            )
        if self._nested_instances >= MAX_NESTED_INSTANCES:
            raise CallError(
                f"more than {MAX_NESTED_INSTANCES} nested WebAssembly calls in one outermost call"
            )

    def _run(
        self,
        _state: StateOverlay,
        loaded: Any,
        frame: Frame,
        entry: str,
        buffer: Any,
        results: tuple[str, ...],
    ) -> ExecutionResult:
        slot = self._slot
        outer = slot.frame
        if outer is None:
            session = self._session
            if session is None or session.instances >= INSTANCES_PER_STORE:
                session = self._session = raw.Session(self.engine)
            # The wall-clock backstop is armed for two timeouts and re-armed once it is a
            # timeout old, so every call gets between one and two timeouts without a C call per
            # call. Nested calls leave it alone: the outermost call's backstop covers them.
            now = time.monotonic()
            if now - session.armed_at > self.settings.timeout:
                session.arm_deadline(self._deadline_ticks)
                session.armed_at = now
            self._nested_instances = 0
            saved = None
            outer_fuel = 0
        else:
            # A call made from inside a host function (a contract calling a contract) stays in
            # the outer call's store, never a fresh one: wasmtime sets a store's stack limit
            # when the outermost call enters it, so nested calls share one stack budget instead
            # of each getting a new one below the last (which could overrun the thread's stack).
            session = typing.cast(raw.Session, outer.session)
            self._nested_instances += 1
            # Keep the outer call's instance and memory handles safe across the nested call ...
            saved = session.save()
            # ... and its fuel: the nested call sets its own limit on the shared store.
            outer_fuel = session.fuel()
        frame.session = session
        limit = frame.gas_limit
        slot.frame = frame
        self._depth += 1
        try:
            session.set_fuel(limit)
            err, trap = session.instantiate(loaded.pre)
            if not (err or trap):
                if loaded.has_memory:
                    # A fresh instance's memory has exactly its declared minimum size.
                    address = session.memory_address()
                    view = self._views.get(address)
                    if view is None:
                        view = self._views[address] = raw.memory_view(
                            address, self.settings.max_memory
                        )
                    frame.mem = view
                    frame.mem_size = loaded.memory_min
                if loaded.has_initialize:
                    err, trap = session.call(INITIALIZE_NAME, raw.raw_buffer(0), 1)
                if not (err or trap):
                    err, trap = session.call(loaded.names[entry], buffer, len(buffer))
            fuel_left = session.fuel()
        finally:
            slot.frame = outer
            self._depth -= 1
            if saved is not None:
                session.restore(saved)
                session.set_fuel(outer_fuel)
        gas_used = limit - fuel_left + frame.host_gas
        state = frame.state
        if err or trap or frame.error is not None:
            failed = self._failure(frame, session, err, trap, gas_used)
            return attrs.evolve(
                failed, read_set=frozenset(state.reads), write_set=frozenset(state.writes)
            )
        if gas_used > limit:
            return attrs.evolve(
                _out_of_gas(limit),
                read_set=frozenset(state.reads),
                write_set=frozenset(state.writes),
            )
        value = None
        if results:
            value = buffer[0].i32 if results[0] == "i32" else buffer[0].i64
        # Positional: a third faster than keywords, on every successful call.
        return ExecutionResult(
            value,
            frame.return_data,
            tuple(frame.events),
            tuple(frame.logs),
            gas_used,
            frozenset(state.reads),
            frozenset(state.writes),
        )

    def _failure(
        self, frame: Frame, session: raw.Session, err: Any, trap: Any, gas_used: int
    ) -> ExecutionResult:
        limit = frame.gas_limit
        if frame.error is not None:
            name, exc = frame.error
            if err or trap:
                raw.describe_failure(err, trap)  # frees the trap/error object
            if isinstance(exc, Revert):
                return ExecutionResult(
                    return_data=exc.data,
                    gas_used=min(gas_used, limit),
                    error=ExecutionError(ErrorKind.REVERT, "execution reverted"),
                )
            if isinstance(exc, OutOfGas):
                return _out_of_gas(limit)
            if isinstance(exc, HostTrap):
                message = f"{name}: {exc}"
            else:
                message = f"{name} failed: {type(exc).__name__}: {exc}"
            return ExecutionResult(
                gas_used=min(gas_used, limit), error=ExecutionError(ErrorKind.HOST, message)
            )
        code, message = raw.describe_failure(err, trap)
        if code == "OUT_OF_FUEL":
            return _out_of_gas(limit)
        # wasmtime does not write the fuel counter back when a trap or an interrupt unwinds,
        # so the work done before it is unknown: like the EVM, a trap consumes the whole limit.
        if code == "INTERRUPT":
            return ExecutionResult(
                gas_used=limit,
                error=ExecutionError(
                    ErrorKind.TIMEOUT,
                    f"call exceeded the wall-clock limit of {self.settings.timeout:g} s",
                ),
            )
        text = _TRAP_MESSAGES.get(code or "", message.strip().splitlines()[0])
        if frame.mem is not None and session.memory_size() >= self.settings.max_memory:
            text += f" (memory is at its limit of {self.settings.max_memory} bytes)"
        return ExecutionResult(gas_used=limit, error=ExecutionError(ErrorKind.TRAP, text))

    # -- lifecycle ---------------------------------------------------------------------------

    def _start_ticker(self) -> None:
        # The thread holds the engine weakly and stops when the backend is closed or collected.
        engine_ref = weakref.ref(self.engine)
        stop = self._stop

        def tick() -> None:
            while not stop.wait(EPOCH_TICK):
                engine = engine_ref()
                if engine is None:
                    return
                engine.increment_epoch()
                del engine

        self._ticker = threading.Thread(target=tick, name="supervm-wasm-epoch", daemon=True)
        self._ticker.start()
        weakref.finalize(self, stop.set)

    def close(self) -> None:
        """Stop the epoch ticker and free compiled modules."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self._session = None
        self._views.clear()
        self.modules.close()
        self._linker.close()


def _valtype(t: str) -> wasmtime.ValType:
    return wasmtime.ValType.i32() if t == "i32" else wasmtime.ValType.i64()


def _arguments(
    entry: str, params: tuple[str, ...], results: tuple[str, ...], args: Sequence[int]
) -> Any:
    if len(results) > 1:
        raise CallError(f"export {entry!r} returns {len(results)} values; at most one is supported")
    if len(args) != len(params):
        raise CallError(
            f"export {entry!r} takes {len(params)} argument(s) ({', '.join(params) or 'none'}), "
            f"got {len(args)}"
        )
    buffer = raw.raw_buffer(max(len(params), len(results)))
    for i, (t, value) in enumerate(zip(params, args, strict=True)):
        if t not in ("i32", "i64"):
            raise CallError(f"export {entry!r} takes a {t} argument; only integers are supported")
        if isinstance(value, bool) or not isinstance(value, int):
            raise CallError(f"argument {i} of {entry!r} must be an integer, got {value!r}")
        low, high = _INT_RANGES[t]
        if not low <= value <= high:
            raise CallError(
                f"argument {i} of {entry!r} ({value}) does not fit in {t}: "
                f"it must be between {low} and {high}"
            )
        if t == "i32":
            buffer[i].i32 = value
        else:
            buffer[i].i64 = value
    for t in results:
        if t not in ("i32", "i64"):
            raise CallError(f"export {entry!r} returns {t}; only integer results are supported")
    return buffer


def _out_of_gas(limit: int) -> ExecutionResult:
    return ExecutionResult(
        gas_used=limit,
        error=ExecutionError(ErrorKind.OUT_OF_GAS, f"out of gas (limit {limit})"),
    )
