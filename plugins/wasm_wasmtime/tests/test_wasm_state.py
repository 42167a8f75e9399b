"""Snapshot semantics through the kernel, access tracking, fresh instances and many calls."""

from __future__ import annotations

import struct
from importlib import resources

import pytest
from supervm import (
    BlockProposal,
    Call,
    ErrorKind,
    ExecutionContext,
    Kernel,
    StateOverlay,
)
from supervm.state.keys import storage_key
from supervm_wasm_wasmtime import backend as backend_module

CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de1")
OTHER = bytes.fromhex("00000000000000000000000000000000000c0de2")


def sk(key: bytes, address: bytes = CONTRACT) -> bytes:
    return storage_key(address, key)


# ``write``: store the call data's value under the key "k<n>"; ``fail`` does the same then
# traps; ``touch`` reads r1 and r2, writes w1 and deletes d1.
STATE = """
(module
  (import "supervm" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "storage_delete" (func $del (param i32 i32) (result i32)))
  (import "supervm" "read_input" (func $rin (param i32)))
  (import "supervm" "input_len" (func $ilen (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "k")
  (data (i32.const 16) "r1r2w1d1")
  (func $write (param $n i32)
    (i32.store8 (i32.const 1) (i32.add (i32.const 48) (local.get $n)))
    (call $rin (i32.const 64))
    (drop (call $set (i32.const 0) (i32.const 2) (i32.const 64) (call $ilen))))
  (func (export "write") (param $n i32) (call $write (local.get $n)))
  (func (export "fail") (param $n i32) (call $write (local.get $n)) unreachable)
  (func (export "touch")
    (drop (call $get (i32.const 16) (i32.const 2)))
    (drop (call $get (i32.const 18) (i32.const 2)))
    (drop (call $set (i32.const 20) (i32.const 2) (i32.const 16) (i32.const 2)))
    (drop (call $del (i32.const 22) (i32.const 2))))
  (func (export "touch_then_fail")
    (drop (call $get (i32.const 16) (i32.const 2)))
    (drop (call $set (i32.const 20) (i32.const 2) (i32.const 16) (i32.const 2)))
    unreachable))
"""


@pytest.fixture
def code(wat) -> bytes:
    return wat(STATE)


@pytest.fixture
def exe(kernel: Kernel, ctx: ExecutionContext):
    """``kernel.execute`` with the test's context (its wasm backend uses the tmp cache dir)."""

    def exe_(code: bytes, state, entry: str, args=(), input: bytes = b"", context=None):
        return kernel.execute(code, state, context or ctx, entry=entry, args=args, input=input)

    return exe_


def test_failing_call_keeps_earlier_buffered_writes(exe, code, storage) -> None:
    overlay = StateOverlay(storage)
    assert exe(code, overlay, "write", [1], b"one").ok
    failed = exe(code, overlay, "fail", [2], b"two")
    assert failed.error is not None and failed.error.kind is ErrorKind.TRAP
    assert overlay.depth == 0
    assert overlay.changes() == {sk(b"k1"): b"one"}
    assert list(storage.iterate()) == []  # nothing committed yet
    assert len(overlay.commit()) == 1
    assert dict(storage.iterate()) == {sk(b"k1"): b"one"}


def test_failing_call_does_not_undo_an_earlier_overwrite(exe, code, storage) -> None:
    storage.set(sk(b"k1"), b"stored")
    overlay = StateOverlay(storage)
    assert exe(code, overlay, "write", [1], b"buffered").ok
    assert not exe(code, overlay, "fail", [1], b"failed").ok
    assert overlay.get(sk(b"k1")) == b"buffered"


def test_nested_snapshots(exe, code, storage) -> None:
    overlay = StateOverlay(storage)
    assert exe(code, overlay, "write", [0], b"root").ok
    overlay.snapshot()
    assert exe(code, overlay, "write", [1], b"outer").ok
    overlay.snapshot()
    assert exe(code, overlay, "write", [2], b"inner").ok
    assert exe(code, overlay, "write", [1], b"outer-overwritten").ok
    assert not exe(code, overlay, "fail", [3], b"failed").ok
    assert overlay.depth == 2
    overlay.rollback_snapshot()  # drops k2 and the overwrite of k1
    assert overlay.get(sk(b"k2")) is None
    assert overlay.get(sk(b"k1")) == b"outer"
    overlay.snapshot()
    assert exe(code, overlay, "write", [4], b"kept").ok
    overlay.commit_snapshot()
    overlay.commit_snapshot()
    assert overlay.depth == 0
    overlay.commit()
    assert dict(storage.iterate()) == {
        sk(b"k0"): b"root",
        sk(b"k1"): b"outer",
        sk(b"k4"): b"kept",
    }


def test_call_inside_a_snapshot_sees_buffered_writes(exe, wat, storage) -> None:
    counter = wat(
        resources.files("supervm_wasm_wasmtime").joinpath("demo", "counter.wat").read_text()
    )
    overlay = StateOverlay(storage)
    assert exe(counter, overlay, "increment").value == 1
    overlay.snapshot()
    assert exe(counter, overlay, "increment").value == 2
    overlay.rollback_snapshot()
    assert exe(counter, overlay, "increment").value == 2
    overlay.commit()
    assert dict(storage.iterate()) == {sk(b"count"): struct.pack("<q", 2)}


def test_read_and_write_sets_are_exactly_the_namespaced_keys(exe, code, storage) -> None:
    result = exe(code, StateOverlay(storage), "touch")
    assert result.ok
    assert result.read_set == {sk(b"r1"), sk(b"r2")}
    assert result.write_set == {sk(b"w1"), sk(b"d1")}


def test_read_and_write_sets_of_a_failed_call(exe, code, storage) -> None:
    overlay = StateOverlay(storage)
    result = exe(code, overlay, "touch_then_fail")
    assert result.error is not None
    assert result.read_set == {sk(b"r1")}
    assert result.write_set == {sk(b"w1")}
    assert overlay.changes() == {}
    assert overlay.reads == {sk(b"r1")} and overlay.writes == {sk(b"w1")}


def test_read_and_write_sets_are_per_call(exe, code, storage) -> None:
    overlay = StateOverlay(storage)
    exe(code, overlay, "touch")
    second = exe(code, overlay, "write", [5], b"v")
    assert second.read_set == frozenset()
    assert second.write_set == {sk(b"k5")}


def test_read_and_write_sets_with_another_address(exe, code, storage) -> None:
    result = exe(code, StateOverlay(storage), "touch", context=ExecutionContext(address=OTHER))
    assert result.read_set == {sk(b"r1", OTHER), sk(b"r2", OTHER)}
    assert result.write_set == {sk(b"w1", OTHER), sk(b"d1", OTHER)}


def test_overlay_tracking_accumulates_the_calls(exe, code, storage) -> None:
    overlay = StateOverlay(storage)
    overlay.get(b"\x02read-before")
    overlay.set(b"\x02written-before", b"x")
    first = exe(code, overlay, "touch")
    second = exe(code, overlay, "write", [7], b"v")
    assert overlay.reads == {b"\x02read-before", *first.read_set, *second.read_set}
    assert overlay.writes == {b"\x02written-before", *first.write_set, *second.write_set}
    overlay.reset_tracking()
    exe(code, overlay, "write", [8], b"v")
    assert overlay.reads == set() and overlay.writes == {sk(b"k8")}


def test_kernel_execute_on_storage_commits_only_good_calls(exe, code, storage) -> None:
    assert exe(code, storage, "write", [1], b"good").ok
    assert not exe(code, storage, "fail", [2], b"bad").ok
    assert dict(storage.iterate()) == {sk(b"k1"): b"good"}


def test_execute_block(kernel: Kernel, code, storage) -> None:
    ctx = ExecutionContext(address=CONTRACT)
    calls = (
        Call(code, entry="write", args=(1,), input=b"a", context=ctx),
        Call(code, entry="fail", args=(2,), input=b"b", context=ctx),
        Call(b"not wasm", context=ctx),
        Call(code, entry="missing", context=ctx),
        Call(code, entry="write", args=(3,), input=b"c", context=ctx),
    )
    proposal = BlockProposal(number=1, timestamp=0, proposer=bytes(20), calls=calls)
    block = kernel.execute_block(proposal, storage)
    kinds = [r.error.kind if r.error else None for r in block.results]
    assert kinds == [
        None,
        ErrorKind.TRAP,
        ErrorKind.INVALID_MODULE,
        ErrorKind.INVALID_CALL,
        None,
    ]
    assert "\\0asm" in block.results[2].error.message
    assert "'missing'" in block.results[3].error.message
    assert block.gas_used == sum(r.gas_used for r in block.results) > 0
    assert dict(storage.iterate()) == {sk(b"k1"): b"a", sk(b"k3"): b"c"}


# -- fresh instance per call -------------------------------------------------------------------

FRESH = """
(module
  (global $g (mut i32) (i32.const 0))
  (global $g64 (mut i64) (i64.const 100))
  (memory (export "memory") 3)
  (data (i32.const 0) "abc")
  (table 2 funcref)
  (func $one (result i32) (i32.const 1))
  (func (export "bump") (result i32)
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (global.get $g))
  (func (export "bump64") (result i64)
    (global.set $g64 (i64.add (global.get $g64) (i64.const 1)))
    (global.get $g64))
  ;; return the old value at addr, then store a marker there
  (func (export "swap") (param $addr i32) (result i32)
    (local $old i32)
    (local.set $old (i32.load (local.get $addr)))
    (i32.store (local.get $addr) (i32.const 0x5a5a5a5a))
    (local.get $old))
  (func (export "size") (result i32) (memory.size))
  (func (export "grow") (result i32) (memory.grow (i32.const 2)))
  ;; put a function in the table and report whether slot 0 was null
  (func (export "table") (result i32)
    (local $was_null i32)
    (local.set $was_null (ref.is_null (table.get 0 (i32.const 0))))
    (table.set 0 (i32.const 0) (ref.func $one))
    (local.get $was_null))
  (elem declare func $one))
"""


def test_mutable_globals_do_not_leak_between_calls(run) -> None:
    assert [run(FRESH, "bump").value for _ in range(5)] == [1] * 5
    assert [run(FRESH, "bump64").value for _ in range(3)] == [101] * 3


# Around raw.KEEP_RESIDENT (64 KiB): below it a reused slot is reset with memset, above it with
# madvise; a word across the boundary is reset by both.
@pytest.mark.parametrize(
    "address", [0, 4096, 16382, 20000, 65532, 65534, 65536, 70000, 3 * 65536 - 4]
)
def test_memory_does_not_leak_between_calls(run, address: int) -> None:
    expected = int.from_bytes(b"abc\x00", "little") if address == 0 else 0
    assert [run(FRESH, "swap", [address]).value for _ in range(4)] == [expected] * 4


def test_memory_growth_does_not_leak_between_calls(run) -> None:
    assert run(FRESH, "grow").value == 3
    assert run(FRESH, "size").value == 3
    assert run(FRESH, "grow").value == 3


def test_tables_do_not_leak_between_calls(run) -> None:
    assert [run(FRESH, "table").value for _ in range(3)] == [1, 1, 1]


def test_nothing_leaks_after_a_trap(run) -> None:
    code = FRESH.replace(
        "(elem declare func $one))",
        '(elem declare func $one)\n  (func (export "bump_then_trap") (drop (call 1)) unreachable))',
    )
    run(code, "swap", [100])
    assert not run(code, "bump_then_trap").ok
    assert run(code, "bump").value == 1
    assert run(code, "swap", [100]).value == 0


# -- many calls --------------------------------------------------------------------------------


def test_many_calls_recycle_stores_and_keep_counting(run, backend, committed) -> None:
    counter = resources.files("supervm_wasm_wasmtime").joinpath("demo", "counter.wat").read_text()
    n = 1000
    assert n > backend_module.INSTANCES_PER_STORE and n > backend_module.POOL_INSTANCES
    values = [run(counter, "increment").value for _ in range(n)]
    assert values == list(range(1, n + 1))
    assert committed() == {sk(b"count"): struct.pack("<q", n)}
    assert backend.modules.compiled == 1


def test_many_calls_with_fresh_instances(run) -> None:
    values = [run(FRESH, "bump").value for _ in range(600)]
    assert values == [1] * 600
    assert [run(FRESH, "swap", [70000]).value for _ in range(300)] == [0] * 300


def test_many_failing_calls_do_not_exhaust_the_pool(run) -> None:
    code = """(module (memory (export "memory") 1)
                (func (export "trap") unreachable)
                (func (export "ok") (result i32) (i32.const 1)))"""
    for i in range(600):
        result = run(code, "trap" if i % 2 else "ok")
        if i % 2:
            assert result.error is not None and result.error.kind is ErrorKind.TRAP
        else:
            assert result.value == 1


def test_many_modules_alternating(run, backend) -> None:
    modules = [
        f'(module (memory (export "memory") 1) (func (export "id") (result i32) (i32.const {i})))'
        for i in range(5)
    ]
    for round_ in range(100):
        for i, text in enumerate(modules):
            assert run(text, "id").value == i, round_
    assert backend.modules.compiled == 5


def test_many_calls_through_kernel_execute(kernel: Kernel, wat, storage) -> None:
    counter = wat(
        resources.files("supervm_wasm_wasmtime").joinpath("demo", "counter.wat").read_text()
    )
    ctx = ExecutionContext(address=CONTRACT)
    overlay = StateOverlay(storage)
    for i in range(1, 301):
        assert kernel.execute(counter, overlay, ctx, entry="increment").value == i
    overlay.commit()
    assert dict(storage.iterate()) == {sk(b"count"): struct.pack("<q", 300)}
