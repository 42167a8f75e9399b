"""The core host ABI: integer calls, storage, chain and call context, input/output, events, logs."""

from __future__ import annotations

import struct
from importlib import resources

import pytest
from supervm import ErrorKind, Event, ExecutionContext, Kernel, Log, StateOverlay
from supervm.state.keys import storage_key

CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de1")
OTHER = bytes.fromhex("00000000000000000000000000000000000c0de2")
CALLER = bytes.fromhex("11" * 20)


def demo(name: str) -> str:
    return resources.files("supervm_wasm_wasmtime").joinpath("demo", name).read_text()


# A key-value contract driven by call data: the input is ``key || value``; ``klen`` says where
# the key ends. ``get`` returns the value's length (or -1) and the value as return data.
KV = """
(module
  (import "supervm" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "supervm" "storage_read_value" (func $read (param i32 i32) (result i32)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "storage_delete" (func $del (param i32 i32) (result i32)))
  (import "supervm" "input_len" (func $ilen (result i32)))
  (import "supervm" "read_input" (func $rin (param i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "put") (param $klen i32) (result i32)
    (call $rin (i32.const 0))
    (call $set (i32.const 0) (local.get $klen)
               (local.get $klen) (i32.sub (call $ilen) (local.get $klen))))
  (func (export "get") (result i64)
    (local $n i64)
    (call $rin (i32.const 0))
    (local.set $n (call $get (i32.const 0) (call $ilen)))
    (if (i64.ge_s (local.get $n) (i64.const 0))
      (then
        (drop (call $read (i32.const 4096) (i32.wrap_i64 (local.get $n))))
        (call $ret (i32.const 4096) (i32.wrap_i64 (local.get $n)))))
    (local.get $n))
  (func (export "get_prefix") (param $len i32) (result i32)
    (local $n i32)
    (call $rin (i32.const 0))
    (drop (call $get (i32.const 0) (call $ilen)))
    (local.set $n (call $read (i32.const 4096) (local.get $len)))
    (call $ret (i32.const 4096) (i32.const 8))
    (local.get $n))
  (func (export "delete") (result i32)
    (call $rin (i32.const 0))
    (call $del (i32.const 0) (call $ilen)))
  (func (export "read_without_get") (result i32)
    (call $read (i32.const 4096) (i32.const 8))))
"""


def test_add_demo_with_integer_arguments(run) -> None:
    result = run(demo("add.wat"), "add", [2, 3])
    assert result.ok, result.error
    assert result.value == 5
    assert result.return_data == b""
    assert result.events == () and result.logs == ()
    assert result.gas_used > 0


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(0, 0, 0), (-7, 3, -4), (2**31 - 1, 1, -(2**31)), (-1, 1, 0), (-(2**31), 0, -(2**31))],
)
def test_i32_arguments_and_signed_result(run, a: int, b: int, expected: int) -> None:
    assert run(demo("add.wat"), "add", [a, b]).value == expected


def test_i64_arguments_and_result(run) -> None:
    code = """(module (func (export "mul") (param i64 i64) (result i64)
                 (i64.mul (local.get 0) (local.get 1))))"""
    assert run(code, "mul", [3_000_000_000, 3]).value == 9_000_000_000
    assert run(code, "mul", [-(2**62), 2]).value == -(2**63)
    assert run(code, "mul", [-1, 1]).value == -1


def test_export_without_result_has_no_value(run) -> None:
    result = run('(module (func (export "call")))')
    assert result.ok and result.value is None


def test_add_through_kernel_execute(kernel: Kernel, wat) -> None:
    storage = kernel.open_storage("memory")
    result = kernel.execute(wat(demo("add.wat")), storage, entry="add", args=[40, 2])
    assert result.ok and result.value == 42


def test_storage_round_trip_across_calls(run, committed) -> None:
    assert run(KV, "get", input=b"key").value == -1  # storage_get of a missing key
    put = run(KV, "put", [3], input=b"key" + b"hello world")
    assert put.ok and put.value == 0
    assert committed() == {storage_key(CONTRACT, b"key"): b"hello world"}

    got = run(KV, "get", input=b"key")
    assert got.value == len(b"hello world")
    assert got.return_data == b"hello world"

    assert run(KV, "put", [3], input=b"key" + b"v2").ok  # overwrite
    assert run(KV, "get", input=b"key").return_data == b"v2"


def test_storage_read_value_copies_at_most_len_bytes(run) -> None:
    assert run(KV, "put", [1], input=b"k" + b"abcdefgh").ok
    result = run(KV, "get_prefix", [3], input=b"k")
    assert result.value == 3
    assert result.return_data == b"abc" + bytes(5)  # only three bytes were written


def test_storage_read_value_without_get_is_a_host_error(run) -> None:
    result = run(KV, "read_without_get")
    assert result.error is not None and result.error.kind is ErrorKind.HOST
    assert "supervm.storage_read_value" in result.error.message
    assert "storage_get" in result.error.message


def test_storage_delete(run, committed) -> None:
    assert run(KV, "put", [3], input=b"keyvalue").ok
    assert run(KV, "put", [5], input=b"otherv").ok
    deleted = run(KV, "delete", input=b"key")
    assert deleted.ok and deleted.value == 0
    assert run(KV, "get", input=b"key").value == -1
    assert committed() == {storage_key(CONTRACT, b"other"): b"v"}
    # Deleting an absent key is not an error.
    assert run(KV, "delete", input=b"never-set").ok


def test_empty_value_is_distinct_from_missing(run) -> None:
    assert run(KV, "put", [3], input=b"key").ok
    result = run(KV, "get", input=b"key")
    assert result.value == 0 and result.return_data == b""


def test_keys_are_namespaced_per_contract_address(run, committed, ctx) -> None:
    a = ExecutionContext(address=CONTRACT)
    b = ExecutionContext(address=OTHER)
    assert run(KV, "put", [3], input=b"keyAAA", context=a).ok
    assert run(KV, "put", [3], input=b"keyBBBB", context=b).ok

    assert run(KV, "get", input=b"key", context=a).return_data == b"AAA"
    assert run(KV, "get", input=b"key", context=b).return_data == b"BBBB"
    assert committed() == {
        storage_key(CONTRACT, b"key"): b"AAA",
        storage_key(OTHER, b"key"): b"BBBB",
    }
    assert storage_key(CONTRACT, b"key") == b"\x01" + CONTRACT + b"key"

    # Deleting in one namespace leaves the other alone.
    assert run(KV, "delete", input=b"key", context=a).ok
    assert run(KV, "get", input=b"key", context=a).value == -1
    assert run(KV, "get", input=b"key", context=b).return_data == b"BBBB"


def test_contract_sees_world_state_written_under_its_namespace(run, storage) -> None:
    storage.set(storage_key(CONTRACT, b"preset"), b"from outside")
    storage.set(storage_key(OTHER, b"preset"), b"not mine")
    assert run(KV, "get", input=b"preset").return_data == b"from outside"


def test_counter_demo_increments_across_calls(run, committed) -> None:
    counter = demo("counter.wat")
    assert [run(counter, "increment").value for _ in range(3)] == [1, 2, 3]
    result = run(counter)  # the transaction entry returns the count as 8 bytes
    assert result.value is None
    assert struct.unpack("<q", result.return_data) == (4,)
    assert committed() == {storage_key(CONTRACT, b"count"): struct.pack("<q", 4)}


CONTEXT = """
(module
  (import "supervm" "block_number" (func $bn (result i64)))
  (import "supervm" "timestamp" (func $ts (result i64)))
  (import "supervm" "caller" (func $caller (param i32)))
  (import "supervm" "self_address" (func $self (param i32)))
  (import "supervm" "input_len" (func $ilen (result i32)))
  (import "supervm" "read_input" (func $rin (param i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (import "supervm" "gas_left" (func $gas (result i64)))
  (memory (export "memory") 1)
  (func (export "block_number") (result i64) (call $bn))
  (func (export "timestamp") (result i64) (call $ts))
  (func (export "caller") (call $caller (i32.const 0)) (call $ret (i32.const 0) (i32.const 20)))
  (func (export "self_address")
    (call $self (i32.const 0)) (call $ret (i32.const 0) (i32.const 20)))
  (func (export "echo") (result i32)
    (call $rin (i32.const 100))
    (call $ret (i32.const 100) (call $ilen))
    (call $ilen))
  (func (export "set_return_twice")
    (call $ret (i32.const 0) (i32.const 4))
    (call $ret (i32.const 0) (i32.const 2)))
  (func (export "gas_left") (result i64) (call $gas))
  ;; gas_left, some work, gas_left again: both as 16 bytes of return data.
  (func (export "gas_pair")
    (local $i i32)
    (i64.store (i32.const 0) (call $gas))
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
    (i64.store (i32.const 8) (call $gas))
    (call $ret (i32.const 0) (i32.const 16))))
"""


def test_block_number_and_timestamp(run) -> None:
    context = ExecutionContext(block_number=123_456, timestamp=1_700_000_123)
    assert run(CONTEXT, "block_number", context=context).value == 123_456
    assert run(CONTEXT, "timestamp", context=context).value == 1_700_000_123


def test_caller_and_self_address(run) -> None:
    context = ExecutionContext(caller=CALLER, address=OTHER)
    assert run(CONTEXT, "caller", context=context).return_data == CALLER
    assert run(CONTEXT, "self_address", context=context).return_data == OTHER


@pytest.mark.parametrize("data", [b"", b"x", b"call data \x00\xff" * 10])
def test_input_len_and_read_input(run, data: bytes) -> None:
    result = run(CONTEXT, "echo", input=data)
    assert result.ok
    assert result.value == len(data)
    assert result.return_data == data


def test_set_return_replaces_earlier_return_data(run) -> None:
    code = CONTEXT.replace(
        '(memory (export "memory") 1)',
        '(memory (export "memory") 1)\n  (data (i32.const 0) "abcd")',
    )
    assert run(code, "set_return_twice").return_data == b"ab"


def test_gas_left_is_below_the_limit_and_decreases(run) -> None:
    limit = 1_000_000
    result = run(CONTEXT, "gas_pair", context=ExecutionContext(gas_limit=limit))
    assert result.ok
    first, second = struct.unpack("<qq", result.return_data)
    assert 0 < second < first < limit
    assert first - second >= 100  # the loop ran at least one instruction per iteration
    assert result.gas_used >= limit - second
    assert 0 < run(CONTEXT, "gas_left", context=ExecutionContext(gas_limit=limit)).value < limit


def test_execution_context_is_visible_through_the_kernel(kernel: Kernel, wat) -> None:
    storage = kernel.open_storage("memory")
    code = wat(CONTEXT)
    context = ExecutionContext(
        block_number=99, timestamp=1_234_567, caller=CALLER, address=OTHER, gas_limit=500_000
    )
    assert kernel.execute(code, storage, context, entry="block_number").value == 99
    assert kernel.execute(code, storage, context, entry="timestamp").value == 1_234_567
    assert kernel.execute(code, storage, context, entry="caller").return_data == CALLER
    assert kernel.execute(code, storage, context, entry="self_address").return_data == OTHER
    assert 0 < kernel.execute(code, storage, context, entry="gas_left").value < 500_000
    echo = kernel.execute(code, storage, context, entry="echo", input=b"abc")
    assert echo.return_data == b"abc" and echo.value == 3


EVENTS = """
(module
  (import "supervm" "emit_event" (func $emit (param i32 i32) (result i32)))
  (import "supervm" "events_len" (func $len (result i32)))
  (import "supervm" "read_event" (func $read (param i32 i32 i32) (result i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "first-event")
  (data (i32.const 16) "second")
  (func $emit_two
    (drop (call $emit (i32.const 0) (i32.const 11)))
    (drop (call $emit (i32.const 16) (i32.const 6))))
  (func (export "count") (result i32) (call $emit_two) (call $len))
  (func (export "count_none") (result i32) (call $len))
  (func (export "read") (param $index i32) (param $len i32) (result i32)
    (local $n i32)
    (call $emit_two)
    (local.set $n (call $read (local.get $index) (i32.const 256) (local.get $len)))
    (if (i32.ge_s (local.get $n) (i32.const 0))
      (then (call $ret (i32.const 256) (local.get $n))))
    (local.get $n))
  (func (export "emit_returns") (result i32) (call $emit (i32.const 0) (i32.const 5))))
"""


def test_emit_event_and_events_len(run) -> None:
    result = run(EVENTS, "count")
    assert result.ok and result.value == 2
    assert result.events == (Event(CONTRACT, b"first-event"), Event(CONTRACT, b"second"))
    assert run(EVENTS, "emit_returns").value == 0


def test_events_are_per_call(run) -> None:
    run(EVENTS, "count")
    result = run(EVENTS, "count_none")
    assert result.value == 0 and result.events == ()


@pytest.mark.parametrize(
    ("index", "length", "value", "data"),
    [
        (0, 64, 11, b"first-event"),
        (1, 64, 6, b"second"),
        (0, 5, 5, b"first"),  # truncated to len
        (1, 0, 0, b""),
        (2, 64, -1, b""),  # index out of range
        (-1, 64, -1, b""),  # 0xFFFFFFFF as an unsigned index
    ],
)
def test_read_event(run, index: int, length: int, value: int, data: bytes) -> None:
    result = run(EVENTS, "read", [index, length])
    assert result.ok, result.error
    assert result.value == value
    assert result.return_data == data


def _topic(i: int) -> bytes:
    return bytes([i + 1]) * 32


LOGS = (
    """
(module
  (import "supervm" "emit_log" (func $log (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "data")
  (data (i32.const 64) \""""
    + "".join(f"\\{i + 1:02x}" * 32 for i in range(5))
    + """\")
  (func (export "log") (param $n i32) (result i32)
    (drop (call $set (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 4)))
    (call $log (i32.const 64) (local.get $n) (i32.const 0) (i32.const 4))))
"""
)


@pytest.mark.parametrize("n_topics", [0, 1, 2, 3, 4])
def test_emit_log_with_up_to_four_topics(run, n_topics: int) -> None:
    result = run(LOGS, "log", [n_topics])
    assert result.ok, result.error
    assert result.value == 0
    topics = tuple(_topic(i) for i in range(n_topics))
    assert result.logs == (Log(CONTRACT, topics, b"data"),)
    assert result.events == ()


def test_emit_log_with_five_topics_fails_and_writes_nothing(run, committed) -> None:
    result = run(LOGS, "log", [5])
    assert result.error is not None and result.error.kind is ErrorKind.HOST
    assert "supervm.emit_log" in result.error.message
    assert "5 topics" in result.error.message and "at most 4" in result.error.message
    assert result.logs == () and result.events == ()
    assert committed() == {}
    assert run(LOGS, "log", [4]).ok  # the backend still works


def test_events_demo(run) -> None:
    result = run(demo("events.wat"))
    assert result.ok, result.error
    assert result.events == (Event(CONTRACT, b"hello, events"),)
    assert result.logs == (Log(CONTRACT, (bytes(31) + b"\x01", bytes(31) + b"\x02"), b"hello"),)
    assert result.return_data == b"hello, events"


def test_events_and_logs_of_a_failed_call_are_dropped(run) -> None:
    code = """
    (module
      (import "supervm" "emit_event" (func $emit (param i32 i32) (result i32)))
      (import "supervm" "emit_log" (func $log (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "call")
        (drop (call $emit (i32.const 0) (i32.const 4)))
        (drop (call $log (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 4)))
        unreachable))
    """
    result = run(code)
    assert result.error is not None and result.error.kind is ErrorKind.TRAP
    assert result.events == () and result.logs == ()


def test_state_overlay_writes_are_buffered_not_committed(backend, storage, wat, ctx) -> None:
    overlay = StateOverlay(storage)
    result = backend.execute(wat(KV), overlay, ctx, entry="put", args=[1], input=b"kv")
    assert result.ok
    assert list(storage.iterate()) == []
    assert overlay.get(storage_key(CONTRACT, b"k")) == b"v"


def test_storage_read_gets_and_copies_in_one_call(backend, storage, ctx, wat) -> None:
    from supervm import StateOverlay
    from supervm.state.keys import storage_key

    storage.set(storage_key(ctx.address, b"k"), b"0123456789")
    code = wat(
        """(module
             (import "supervm" "storage_read" (func $r (param i32 i32 i32 i32) (result i64)))
             (import "supervm" "set_return" (func $ret (param i32 i32)))
             (memory (export "memory") 1)
             (data (i32.const 0) "kx")
             (func (export "call")
               ;; absent key: -1 and nothing written
               (if (i64.ne (call $r (i32.const 1) (i32.const 1) (i32.const 100) (i32.const 4))
                           (i64.const -1))
                 (then unreachable))
               ;; present: full length returned, only out_len bytes copied
               (if (i64.ne (call $r (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 4))
                           (i64.const 10))
                 (then unreachable))
               (call $ret (i32.const 100) (i32.const 6))))"""
    )
    result = backend.execute(code, StateOverlay(storage), ctx)
    assert result.ok, result.error
    assert result.return_data == b"0123\x00\x00"
    assert result.read_set == {storage_key(ctx.address, b"k"), storage_key(ctx.address, b"x")}
