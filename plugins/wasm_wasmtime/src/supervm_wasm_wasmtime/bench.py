"""``supervm bench wasm-call``: SuperVM's call path against wasmtime's high-level API.

Both sides run the same counter contract (one ``storage_get``, one ``storage_read_value`` and
one ``storage_set`` per call), with a fresh instance per call, fuel metering on, keys namespaced
by contract address and writes buffered in the same kind of state overlay over memory storage.
They are measured in one run, interleaved, so machine noise hits both alike. Where the native
execution core is installed and available (plugin ``wasm_native``), the same calls also run on
the ``wasm-native`` backend (host functions in C), and its ratio to the same baseline is shown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import click
import wasmtime
from supervm import ExecutionContext, Kernel, StateOverlay, VMSettings
from supervm.state.keys import storage_key

COUNTER_WAT = """
(module
  (import "supervm" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "supervm" "storage_read_value" (func $read (param i32 i32) (result i32)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (func (export "call")
    (if (i64.eq (call $get (i32.const 0) (i32.const 5)) (i64.const 8))
      (then (drop (call $read (i32.const 16) (i32.const 8)))))
    (i64.store (i32.const 16) (i64.add (i64.load (i32.const 16)) (i64.const 1)))
    (drop (call $set (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8)))))
"""
ADDRESS = bytes.fromhex("00000000000000000000000000000000c0ffee01")


def _supervm_runner(kernel: Kernel, code: bytes, vm_name: str = "wasm") -> Callable[[int], float]:
    vm = kernel.vm(vm_name, VMSettings(cache_dir=""))
    state = StateOverlay(kernel.open_storage("memory"))
    context = ExecutionContext(address=ADDRESS)

    def run(n: int) -> float:
        execute = vm.execute
        start = time.perf_counter()
        for _ in range(n):
            result = execute(code, state, context)
        elapsed = time.perf_counter() - start
        if result.error is not None:
            raise click.ClickException(f"benchmark call failed: {result.error}")
        return elapsed

    return run


def _baseline_runner(kernel: Kernel, code: bytes) -> Callable[[int], float]:
    """The same contract through ``Linker.define_func`` and ``Func.__call__``."""
    config = wasmtime.Config()
    config.consume_fuel = True
    engine = wasmtime.Engine(config)
    module = wasmtime.Module(engine, code)
    state = StateOverlay(kernel.open_storage("memory"))
    linker = wasmtime.Linker(engine)
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    pending: list[bytes | None] = [None]

    def memory(caller: wasmtime.Caller) -> wasmtime.Memory:
        mem = caller.get("memory")
        assert isinstance(mem, wasmtime.Memory)
        return mem

    def get(caller: wasmtime.Caller, ptr: int, length: int) -> int:
        key = bytes(memory(caller).read(caller, ptr, ptr + length))
        value = pending[0] = state.get(storage_key(ADDRESS, key))
        return -1 if value is None else len(value)

    def read(caller: wasmtime.Caller, ptr: int, length: int) -> int:
        value = (pending[0] or b"")[:length]
        memory(caller).write(caller, value, ptr)
        return len(value)

    def set_(caller: wasmtime.Caller, kp: int, kl: int, vp: int, vl: int) -> int:
        mem = memory(caller)
        key = bytes(mem.read(caller, kp, kp + kl))
        state.set(storage_key(ADDRESS, key), bytes(mem.read(caller, vp, vp + vl)))
        return 0

    define = linker.define_func
    define("supervm", "storage_get", wasmtime.FuncType([i32, i32], [i64]), get, access_caller=True)
    define("supervm", "storage_read_value", wasmtime.FuncType([i32, i32], [i32]), read,
           access_caller=True)  # fmt: skip
    define("supervm", "storage_set", wasmtime.FuncType([i32] * 4, [i32]), set_, access_caller=True)

    def run(n: int) -> float:
        store = wasmtime.Store(engine)
        start = time.perf_counter()
        for i in range(n):
            if i % 100 == 0:
                store = wasmtime.Store(engine)
                store.set_fuel(10**12)
            instance = linker.instantiate(store, module)
            func = instance.exports(store)["call"]
            assert isinstance(func, wasmtime.Func)
            state.snapshot()
            func(store)
            state.commit_snapshot()
        return time.perf_counter() - start

    return run


def _silent(_message: str) -> None:
    pass


def measure(
    calls: int, rounds: int = 3, progress: Callable[[str], None] = _silent
) -> dict[str, float]:
    """Run both sides ``rounds`` times, interleaved, and keep each side's best round.

    ``progress`` is told each phase before it starts (never inside a timed region).
    """
    progress("compiling the counter contract")
    code = bytes(wasmtime.wat2wasm(COUNTER_WAT))
    with Kernel.from_plugins() as kernel:
        ours = _supervm_runner(kernel, code)
        base = _baseline_runner(kernel, code)
        native = _native_runner(kernel, code)
        progress("warming up both sides")
        ours(1000)  # warm up: compile, fill the instance pool
        base(200)
        if native is not None:
            native(1000)
        best_ours = best_native = float("inf")
        for r in range(rounds):
            progress(f"round {r + 1}/{rounds}: supervm raw call path, {calls:,} calls")
            best_ours = min(best_ours, ours(calls))
            if native is not None:
                progress(f"round {r + 1}/{rounds}: supervm native path, {calls:,} calls")
                best_native = min(best_native, native(calls))
        base_calls = max(calls // 5, 1000)
        best_base = float("inf")
        for r in range(rounds):
            progress(f"round {r + 1}/{rounds}: wasmtime high-level API, {base_calls:,} calls")
            best_base = min(best_base, base(base_calls))
    ours_rate = calls / best_ours
    base_rate = base_calls / best_base
    result = {
        "calls_per_s": round(ours_rate, 1),
        "baseline_calls_per_s": round(base_rate, 1),
        "ratio": round(ours_rate / base_rate, 2),
    }
    if native is not None:
        native_rate = calls / best_native
        result["native_calls_per_s"] = round(native_rate, 1)
        result["native_ratio"] = round(native_rate / base_rate, 2)
    return result


def _native_runner(kernel: Kernel, code: bytes) -> Callable[[int], float] | None:
    """The same calls on the native path, when the native core runs here (else ``None``)."""
    if "wasm-native" not in kernel.vms.names():
        return None
    vm = kernel.vm("wasm-native", VMSettings(cache_dir=""))
    if getattr(vm, "engine_kind", None) != "native":
        return None
    return _supervm_runner(kernel, code, "wasm-native")


@click.command("wasm-call")
@click.option("--calls", default=100_000, show_default=True, help="Calls per round.")
@click.option("--rounds", default=3, show_default=True, help="Rounds per side (best is kept).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def wasm_call_command(calls: int, rounds: int, as_json: bool) -> None:
    """Counter-contract calls/s: SuperVM's raw call path vs wasmtime's high-level API."""
    if calls < 1 or rounds < 1:
        raise click.BadParameter("--calls and --rounds must be positive")
    progress = _silent if as_json else (lambda m: click.echo(f"  {m}", err=True))
    result = measure(calls, rounds, progress)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo("counter contract: storage_get + storage_read_value + storage_set per call")
    click.echo(f"  supervm raw call path      {result['calls_per_s']:>12,.0f} calls/s")
    click.echo(f"  wasmtime high-level API    {result['baseline_calls_per_s']:>12,.0f} calls/s")
    click.echo(f"  ratio                      {result['ratio']:>12.2f}x")
    if "native_ratio" in result:
        click.echo(f"  supervm native path        {result['native_calls_per_s']:>12,.0f} calls/s")
        click.echo(f"  native ratio               {result['native_ratio']:>12.2f}x")
