"""The hot path: wasmtime's C API through the ctypes bindings the ``wasmtime`` package ships.

``Func.__call__`` costs about 18 µs and a ``Linker.define_func`` host call about 5.7 µs; the
unchecked C entry points used here cost about 1.1 µs and 0.34 µs (see ``shared/DESIGN.md``).
Everything that touches ``wasmtime._bindings`` lives in this module so that a wasmtime upgrade
has one place to check; the package is pinned to one major version for that reason.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from ctypes import POINTER, byref
from typing import Any

import wasmtime
from wasmtime import _bindings as B
from wasmtime import _ffi

_EXTERN_MEMORY = _ffi.WASMTIME_EXTERN_MEMORY.value

RawVal = B.wasmtime_val_raw_t
#: The argument/result buffer as 64-bit words: value ``i`` is word ``2 * i`` (a raw value is 16
#: bytes; i32 and i64 sit in its low 8). Indexing a ctypes integer array yields plain ints,
#: where ``wasmtime_val_raw_t *`` yields a union object per access: 17% cheaper host calls.
RawWords = ctypes.c_int64 * 32
#: ``size_t callback(void *env, wasmtime_caller_t *caller, int64_t (*args)[32], size_t n)``;
#: a non-zero return is a ``wasm_trap_t *`` that ends the call.
RawCallback = ctypes.CFUNCTYPE(
    ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, POINTER(RawWords), ctypes.c_size_t
)
_NO_FINALIZER = ctypes.cast(None, ctypes.CFUNCTYPE(None, ctypes.c_void_p))
#: Bytes of a pooled linear memory reset in place when its slot is reused (see ``engine``).
KEEP_RESIDENT = 64 * 1024


def _fresh(name: str, restype: Any) -> Any:
    """A private, unconverted function pointer (``argtypes`` unset: no per-call conversion).

    ``dll[name]`` builds a new function object, so wasmtime's own bindings stay untouched.
    """
    fn = B.dll[name]
    fn.restype = restype
    return fn


_call_unchecked = _fresh("wasmtime_func_call_unchecked", ctypes.c_void_p)
_instantiate_pre = _fresh("wasmtime_instance_pre_instantiate", ctypes.c_void_p)
_export_get = _fresh("wasmtime_instance_export_get", ctypes.c_bool)
_memory_data = _fresh("wasmtime_memory_data", ctypes.c_void_p)
_memory_size = _fresh("wasmtime_memory_data_size", ctypes.c_size_t)
_set_fuel = _fresh("wasmtime_context_set_fuel", ctypes.c_void_p)
_get_fuel = _fresh("wasmtime_context_get_fuel", ctypes.c_void_p)
_set_epoch_deadline = _fresh("wasmtime_context_set_epoch_deadline", None)
_trap_new = B._wasmtime_trap_new


def pooled_engine(
    *,
    max_memory: int,
    max_stack: int,
    pool_instances: int,
) -> wasmtime.Engine:
    """An engine with deterministic settings, fuel, epochs and a pooling instance allocator.

    Determinism: NaNs are canonicalised, threads and relaxed SIMD are off. Pooling makes an
    instantiation cost about 1.3 µs instead of 8.6 µs; linear memory is reserved per slot with
    room for ``max_memory`` bytes, which is also the growth limit.
    """
    config = wasmtime.Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    config.cranelift_nan_canonicalization = True
    config.wasm_threads = False
    config.wasm_relaxed_simd = False
    config.wasm_multi_memory = False
    config.wasm_memory64 = False
    config.max_wasm_stack = max_stack
    config.memory_init_cow = True
    config.memory_reservation = max_memory
    config.memory_guard_size = 64 * 1024
    config.memory_reservation_for_growth = 0
    config.memory_may_move = False
    config.parallel_compilation = False
    pool = B.wasmtime_pooling_allocation_config_new()
    B.wasmtime_pooling_allocation_config_total_core_instances_set(pool, pool_instances)
    B.wasmtime_pooling_allocation_config_total_memories_set(pool, pool_instances)
    B.wasmtime_pooling_allocation_config_total_tables_set(pool, pool_instances)
    B.wasmtime_pooling_allocation_config_max_memory_size_set(pool, max_memory)
    # A reused slot's lowest KEEP_RESIDENT bytes are reset with memset, the rest with madvise.
    # A contract's whole first 64 KiB page stays resident: with less (16 KiB measured), one
    # thread got faster, but the madvise of every reset changes page tables that the other
    # thread's core caches, and two threads of the native block executor stopped scaling (2.2x
    # one thread's speed, then none; docs/native.md, "Pooled memory").
    B.wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(pool, KEEP_RESIDENT)
    # Pooled fiber stacks are for async calls, which SuperVM does not make; the default pool of
    # 1,000 costs 2,000 memory mappings per engine, and 65,530 mappings abort a process.
    B.wasmtime_pooling_allocation_config_total_stacks_set(pool, 0)
    B.wasmtime_pooling_allocation_strategy_set(config.ptr(), pool)
    B.wasmtime_pooling_allocation_config_delete(pool)
    return wasmtime.Engine(config)


class Linker:
    """A store-independent linker whose host functions are raw ctypes callbacks."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._ptr = B.wasmtime_linker_new(engine.ptr())
        # The C side holds raw pointers to these callbacks: keep them alive with the linker.
        self._callbacks: list[Any] = []

    def define(
        self,
        module: str,
        name: str,
        functype: wasmtime.FuncType,
        callback: Callable[[Any, Any, Any, int], int],
    ) -> None:
        """Define ``module.name`` as a raw host function."""
        raw = RawCallback(callback)
        m, n = module.encode(), name.encode()
        as_wasmtime = ctypes.cast(raw, B.wasmtime_func_unchecked_callback_t)
        err = B.wasmtime_linker_define_func_unchecked(
            self._ptr, m, len(m), n, len(n), functype.ptr(), as_wasmtime, None, _NO_FINALIZER
        )
        if err:
            raise wasmtime.WasmtimeError._from_ptr(err)
        self._callbacks.append(raw)

    def instantiate_pre(self, module: wasmtime.Module) -> Any:
        """Pre-link ``module`` so each instantiation skips import resolution."""
        pre = POINTER(B.wasmtime_instance_pre_t)()
        err = B.wasmtime_linker_instantiate_pre(self._ptr, module.ptr(), byref(pre))
        if err:
            raise wasmtime.WasmtimeError._from_ptr(err)
        return pre

    def close(self) -> None:
        """Free the linker (instance-pre handles stay valid)."""
        if self._ptr is not None:
            B.wasmtime_linker_delete(self._ptr)
            self._ptr = None


def delete_instance_pre(pre: Any) -> None:
    """Free an instance-pre handle."""
    B.wasmtime_instance_pre_delete(pre)


def new_trap(message: str) -> int:
    """A ``wasm_trap_t *`` (as an int) for a host callback to return."""
    data = message.encode()
    trap = _trap_new(data, len(data))
    return ctypes.cast(trap, ctypes.c_void_p).value or 0


class Session:
    """One store and the buffers reused for every call made in it.

    Instances are only freed when their store is dropped, so a session is retired after
    ``max_instances`` calls and a fresh one takes its place. All out-parameters are
    preallocated and passed by reference, and pointer results are plain integers.
    """

    __slots__ = (
        "_b_fuel",
        "_b_func",
        "_b_inst",
        "_b_mem",
        "_b_mem_handle",
        "_b_trap",
        "_fuel",
        "_trap",
        "armed_at",
        "ctx",
        "ext_func",
        "ext_mem",
        "instance",
        "instances",
        "store",
    )

    def __init__(self, engine: wasmtime.Engine) -> None:
        self.store = wasmtime.Store(engine)
        self.ctx = self.store._context()
        self.instance = B.wasmtime_instance_t()
        self._trap = ctypes.c_void_p()
        self._fuel = ctypes.c_uint64()
        self.ext_mem = B.wasmtime_extern_t()
        self.ext_func = B.wasmtime_extern_t()
        self._b_inst = byref(self.instance)
        self._b_trap = byref(self._trap)
        self._b_fuel = byref(self._fuel)
        self._b_mem = byref(self.ext_mem)
        self._b_func = byref(self.ext_func)
        self._b_mem_handle = byref(self.ext_mem.of.memory)
        self.instances = 0
        self.armed_at = -math.inf  # never armed

    def set_fuel(self, fuel: int) -> None:
        """Give the next call ``fuel`` units of fuel."""
        self._fuel.value = fuel
        _set_fuel(self.ctx, self._fuel)

    def arm_deadline(self, ticks: int) -> None:
        """Interrupt execution ``ticks`` epochs from now."""
        _set_epoch_deadline(self.ctx, ctypes.c_uint64(ticks))

    def fuel(self) -> int:
        """Fuel left in the store."""
        _get_fuel(self.ctx, self._b_fuel)
        return self._fuel.value

    def instantiate(self, pre: Any) -> tuple[int | None, int | None]:
        """Instantiate; returns ``(error, trap)`` addresses, both ``None`` on success."""
        self.instances += 1
        self._trap.value = None
        err = _instantiate_pre(pre, self.ctx, self._b_inst, self._b_trap)
        return err, self._trap.value

    def memory_address(self, name: bytes = b"memory") -> int:
        """Address of the instance's exported memory's data, or 0 if it has none."""
        if not _export_get(self.ctx, self._b_inst, name, _size(len(name)), self._b_mem):
            return 0
        if self.ext_mem.kind != _EXTERN_MEMORY:
            return 0
        return _memory_data(self.ctx, self._b_mem_handle) or 0

    def save(self) -> bytes:
        """The instance and memory handles, for a nested call to restore afterwards."""
        return bytes(self.instance) + bytes(self.ext_mem)

    def restore(self, saved: bytes) -> None:
        """Put back handles taken with :meth:`save`, and clear the nested call's trap.

        wasmtime writes the trap out-parameter only when a call traps, so the outer call, still
        running, would otherwise find the nested call's trap there (already freed) on return.
        """
        size = ctypes.sizeof(self.instance)
        ctypes.memmove(ctypes.addressof(self.instance), saved[:size], size)
        ctypes.memmove(ctypes.addressof(self.ext_mem), saved[size:], len(saved) - size)
        self._trap.value = None

    def memory_size(self) -> int:
        """Current size of the memory found by the last :meth:`memory_address`."""
        return int(_memory_size(self.ctx, self._b_mem_handle))

    def call(self, name: bytes, args: Any, nargs: int) -> tuple[int | None, int | None]:
        """Call export ``name`` with a raw argument/result buffer; ``(error, trap)`` addresses."""
        if not _export_get(self.ctx, self._b_inst, name, _size(len(name)), self._b_func):
            raise KeyError(name)
        self._trap.value = None
        err = _call_unchecked(
            self.ctx, byref(self.ext_func.of.func), args, _size(nargs), self._b_trap
        )
        return err, self._trap.value


_size = ctypes.c_size_t


def memory_view(address: int, size: int) -> memoryview:
    """A writable byte view of ``size`` bytes at ``address`` (no copy)."""
    return memoryview((ctypes.c_ubyte * size).from_address(address)).cast("B")


def describe_failure(err: int | None, trap: int | None) -> tuple[str | None, str]:
    """``(trap code name or None, message)`` of a failed instantiate or call; frees both."""
    if trap:
        t = wasmtime.Trap._from_ptr(ctypes.cast(trap, POINTER(B.wasm_trap_t)))
        if err:
            B.wasmtime_error_delete(ctypes.cast(err, POINTER(B.wasmtime_error_t)))
        code = t.trap_code
        return (code.name if code is not None else None), t.message
    e = wasmtime.WasmtimeError._from_ptr(ctypes.cast(err, POINTER(B.wasmtime_error_t)))
    return None, str(e)


def raw_buffer(n: int) -> Any:
    """A raw value buffer of ``n`` slots (at least one)."""
    return (RawVal * max(n, 1))()
