"""The bad-input catalogue on both paths: traps, out of gas, timeouts, memory bombs, rejected
modules and calls. Each case must fail the same way on the native path as on the Python one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from supervm import ErrorKind, ExecutionContext

Wat = Callable[[str], bytes]

IMPORTS = """
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
"""


def module(body: str, *, memory: str = '(memory (export "memory") 1)', extra: str = "") -> str:
    return f'(module {IMPORTS} {memory} {extra}\n (func (export "call") {body}))'


WRITE_THEN = "(drop (call $set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))) "

TRAPS = {
    "unreachable": ("unreachable", "unreachable instruction executed"),
    "division by zero": (
        "(drop (i32.div_u (i32.const 1) (i32.const 0)))",
        "integer division by zero",
    ),
    "overflow": (
        "(drop (i32.div_s (i32.const 0x80000000) (i32.const -1)))",
        "integer overflow",
    ),
    "out-of-bounds load": ("(drop (i32.load (i32.const 65535)))", "out-of-bounds memory access"),
    "bad conversion": (
        "(drop (i32.trunc_f32_s (f32.div (f32.const 0) (f32.const 0))))",
        "invalid conversion to integer",
    ),
}


@pytest.mark.parametrize("case", sorted(TRAPS))
def test_traps(same: Any, wat: Wat, ctx: ExecutionContext, case: str) -> None:
    body, message = TRAPS[case]
    out = same(wat(module(WRITE_THEN + body)), ctx)
    assert out.result.error.kind is ErrorKind.TRAP
    assert out.result.error.message == message
    assert out.result.gas_used == ctx.gas_limit
    assert out.changes == () and out.committed == ()


def test_stack_overflow(same: Any, wat: Wat, ctx: ExecutionContext) -> None:
    code = wat(module("(call $deep)", extra="(func $deep (call $deep))"))
    out = same(code, ctx)
    assert out.result.error.message == "stack overflow: call stack exhausted"


def test_indirect_call_to_null(same: Any, wat: Wat, ctx: ExecutionContext) -> None:
    code = wat(module("(call_indirect (i32.const 0))", extra="(table 1 funcref)"))
    assert same(code, ctx).result.error.message == "indirect call to a null table entry"


def test_out_of_gas_in_a_loop(same: Any, wat: Wat) -> None:
    code = wat(module(WRITE_THEN + "(loop $l (br $l))"))
    context = ExecutionContext(address=b"\x01" * 20, gas_limit=50_000)
    out = same(code, context)
    assert out.result.error.kind is ErrorKind.OUT_OF_GAS
    assert out.result.gas_used == 50_000
    assert out.writes == frozenset({b"\x01" + b"\x01" * 20 + b"\x00"})


def test_zero_gas(same: Any, wat: Wat) -> None:
    out = same(wat(module("(nop)")), ExecutionContext(gas_limit=0))
    assert out.result.error is None or out.result.error.kind is ErrorKind.OUT_OF_GAS


def test_timeout(make_backends: Any, storage_factory: Any, wat: Wat) -> None:
    from supervm_wasm_native.differential import compare

    python, native = make_backends(timeout=0.2)
    code = wat(module("(loop $l (br $l))"))
    context = ExecutionContext(gas_limit=2**63)
    a, b = compare([python, native], code, storage_factory, context)
    assert a.result == b.result
    assert b.result.error.kind is ErrorKind.TIMEOUT
    assert b.result.error.message == "call exceeded the wall-clock limit of 0.2 s"


def test_memory_bomb_stops_at_the_limit(same: Any, wat: Wat, ctx: ExecutionContext) -> None:
    body = """
      (if (i32.ne (memory.grow (i32.const 1000)) (i32.const -1)) (then (return)))
      (drop (memory.grow (i32.const 255)))
      (call $ret (i32.sub (i32.mul (i32.const 256) (i32.const 65536)) (i32.const 4)) (i32.const 4))
      unreachable"""
    out = same(wat(module(body)), ctx)
    assert out.result.error.message == (
        "unreachable instruction executed (memory is at its limit of 16777216 bytes)"
    )


def test_host_call_into_grown_memory(same: Any, wat: Wat, ctx: ExecutionContext) -> None:
    body = """
      (drop (memory.grow (i32.const 2)))
      (call $ret (i32.const 196600) (i32.const 8))"""
    out = same(wat(module(body)), ctx)
    assert out.result.ok and out.result.return_data == bytes(8)
    short = same(wat(module("(call $ret (i32.const 196600) (i32.const 8))")), ctx)
    assert "outside the module's 65536 bytes" in short.result.error.message


def test_no_memory(same: Any, wat: Wat, ctx: ExecutionContext) -> None:
    out = same(wat(module("(call $ret (i32.const 0) (i32.const 0))", memory="")), ctx)
    assert out.result.error.message == (
        "supervm.set_return: the module exports no memory named 'memory'"
    )


def test_data_segment_out_of_bounds_fails_at_instantiation(
    same: Any, wat: Wat, ctx: ExecutionContext
) -> None:
    code = wat(module("(nop)", extra='(data (i32.const 65535) "ab")'))
    out = same(code, ctx)
    assert out.result.error.kind is ErrorKind.TRAP


REJECTED = {
    "unknown import": '(module (import "supervm" "nope" (func)) (func (export "call")))',
    "wrong signature": '(module (import "supervm" "set_return" (func (param i32))) '
    '(func (export "call")))',
    "memory import": '(module (import "supervm" "mem" (memory 1)) (func (export "call")))',
    "start function": '(module (func $s) (start $s) (func (export "call")))',
    "memory too large": '(module (memory 300) (func (export "call")))',
    "bad initialize": '(module (func (export "_initialize") (param i32)) (func (export "call")))',
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_modules(same: Any, wat: Wat, ctx: ExecutionContext, case: str) -> None:
    out = same(wat(REJECTED[case]), ctx, native=False)
    assert out.raised is not None and out.raised[0] == "ModuleError"


def test_not_webassembly(same: Any, ctx: ExecutionContext) -> None:
    out = same(b"\x60\x80\x60\x40", ctx, native=False)
    assert out.raised == (
        "ModuleError",
        "not a WebAssembly module: it does not start with the \\0asm magic",
    )


ENTRIES = """(module
  (global $g (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $g (i32.const 40)))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (global.get $g) (i32.add (local.get 0) (local.get 1))))
  (func (export "wide") (param i64) (result i64) (i64.mul (local.get 0) (i64.const 3)))
  (func (export "pair") (result i32 i32) (i32.const 1) (i32.const 2))
  (func (export "float") (param f32))
  (func (export "call")))"""


@pytest.mark.parametrize(
    ("entry", "args"),
    [
        ("add", (1, 2)),
        ("add", (-5, 2**31 - 1)),
        ("wide", (2**62,)),
        ("wide", (-(2**63),)),
        ("add", (1,)),
        ("add", (1, 2**31)),
        ("add", (True, 1)),
        ("add", (1.0, 1)),
        ("pair", ()),
        ("float", (1,)),
        ("missing", ()),
        ("call", (1,)),
    ],
)
def test_entries_and_arguments(
    same: Any, wat: Wat, ctx: ExecutionContext, entry: str, args: tuple[Any, ...]
) -> None:
    out = same(wat(ENTRIES), ctx, entry=entry, args=args)
    if out.raised is None:
        assert out.result.ok
    else:
        assert out.raised[0] == "CallError"


def test_initialize_runs_first(same: Any, wat: Wat, ctx: ExecutionContext) -> None:
    assert same(wat(ENTRIES), ctx, entry="add", args=(1, 2)).result.value == 43


def test_revert_keeps_its_data_and_drops_writes(same: Any, wat: Wat, ctx: ExecutionContext) -> None:
    code = wat(
        '(module (import "supervm" "revert" (func $revert (param i32 i32)))'
        ' (import "supervm" "storage_add" (func $add (param i32 i32 i32) (result i32)))'
        ' (memory (export "memory") 1) (data (i32.const 0) "no!")'
        ' (func (export "call") (drop (call $add (i32.const 0) (i32.const 2) (i32.const 0)))'
        " (call $revert (i32.const 0) (i32.const 3))))"
    )
    out = same(code, ctx)
    assert out.result.error.kind is ErrorKind.REVERT and out.result.return_data == b"no!"
    assert out.changes == ()
