"""Gas: fuel plus host charges, determinism, and out-of-gas from either side."""

from __future__ import annotations

import struct

import pytest
from supervm import ErrorKind, ExecutionContext
from supervm.state.keys import storage_key
from supervm_wasm_wasmtime import abi

CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de1")

GAS = """
(module
  (import "supervm" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "read_input" (func $rin (param i32)))
  (import "supervm" "input_len" (func $ilen (result i32)))
  (import "supervm" "gas_left" (func $gas (result i64)))
  (memory (export "memory") 2)
  (data (i32.const 0) "key")
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "get") (drop (call $get (i32.const 0) (i32.const 3))))
  (func (export "set") (drop (call $set (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3))))
  ;; store the call data under "key"
  (func (export "put")
    (call $rin (i32.const 16))
    (drop (call $set (i32.const 0) (i32.const 3) (i32.const 16) (call $ilen))))
  (func (export "spin") (param $n i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
  ;; write "key", then loop forever
  (func (export "write_then_loop")
    (drop (call $set (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3)))
    (loop $l (br $l)))
  ;; storage_set in a loop forever
  (func (export "set_forever")
    (loop $l
      (drop (call $set (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3)))
      (br $l)))
  ;; gas_left in a loop forever
  (func (export "gas_left_forever")
    (loop $l (drop (call $gas)) (br $l)))
  ;; gas_left after a spin of n iterations
  (func (export "gas_after") (param $n i32) (result i64)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (call $gas)))
"""


def test_gas_used_is_positive_and_deterministic(run) -> None:
    first = run(GAS, "add", [1, 2])
    second = run(GAS, "add", [1, 2])
    assert first.gas_used > 0
    assert first.gas_used == second.gas_used
    puts = [run(GAS, "put", input=b"value").gas_used for _ in range(3)]
    assert len(set(puts)) == 1 and puts[0] > abi.GAS["storage_set"]


def test_gas_is_the_same_on_a_fresh_backend(run, make_backend) -> None:
    other = make_backend()
    assert run(GAS, "spin", [1000]).gas_used == run(GAS, "spin", [1000], vm=other).gas_used


def test_gas_grows_with_instructions(run) -> None:
    few = run(GAS, "spin", [10]).gas_used
    many = run(GAS, "spin", [1010]).gas_used
    assert many - few >= 1000  # at least one unit per iteration


def test_storage_set_costs_more_than_storage_get(run) -> None:
    get = run(GAS, "get")
    set_ = run(GAS, "set")
    assert get.ok and set_.ok
    assert set_.gas_used > get.gas_used
    # Nearly the same instructions around one host call: the difference is the host prices
    # (plus the two extra i32.const arguments of storage_set).
    expected = abi.GAS["storage_set"] + abi.STORAGE_BYTE_GAS * 6 - abi.GAS["storage_get"]
    assert 0 <= set_.gas_used - get.gas_used - expected <= 4


def test_storage_get_of_an_existing_key_charges_per_byte(run) -> None:
    missing = run(GAS, "get").gas_used
    assert run(GAS, "put", input=b"x" * 100).ok
    found = run(GAS, "get").gas_used
    assert found - missing == abi.STORAGE_BYTE_GAS * (3 + 100)


def test_storage_set_charges_per_value_byte(run) -> None:
    small = run(GAS, "put", input=b"").gas_used
    large = run(GAS, "put", input=b"v" * 100).gas_used
    assert large - small == 100 * (abi.STORAGE_BYTE_GAS + abi.COPY_BYTE_GAS)


def test_out_of_gas_in_a_wasm_loop(run, storage, committed) -> None:
    storage.set(storage_key(CONTRACT, b"key"), b"old")
    before = committed()
    limit = 100_000
    result = run(
        GAS, "write_then_loop", context=ExecutionContext(address=CONTRACT, gas_limit=limit)
    )
    assert result.error is not None
    assert result.error.kind is ErrorKind.OUT_OF_GAS
    assert str(limit) in result.error.message
    assert result.gas_used == limit
    assert committed() == before  # the write before the loop was discarded
    assert run(GAS, "add", [1, 1]).value == 2


def test_out_of_gas_from_host_charges(run, committed) -> None:
    limit = 50_000  # ten storage_set calls at most
    result = run(GAS, "set_forever", context=ExecutionContext(address=CONTRACT, gas_limit=limit))
    assert result.error is not None and result.error.kind is ErrorKind.OUT_OF_GAS
    assert result.gas_used == limit
    assert result.events == () and result.logs == ()
    assert committed() == {}
    assert run(GAS, "set").ok


def test_out_of_gas_from_per_byte_charges_at_the_end_of_the_call(run, committed) -> None:
    # The base price fits the limit; the per-byte charge of a 60 kB value does not.
    limit = 20_000
    context = ExecutionContext(address=CONTRACT, gas_limit=limit)
    result = run(GAS, "put", input=b"v" * 60_000, context=context)
    assert result.error is not None and result.error.kind is ErrorKind.OUT_OF_GAS
    assert result.gas_used == limit
    assert committed() == {}
    assert run(GAS, "put", input=b"v" * 10, context=context).ok


def test_out_of_gas_from_gas_left_polling(run) -> None:
    result = run(GAS, "gas_left_forever", context=ExecutionContext(gas_limit=10_000))
    assert result.error is not None and result.error.kind is ErrorKind.OUT_OF_GAS
    assert result.gas_used == 10_000


@pytest.mark.parametrize("limit", [0, 1])
def test_tiny_gas_limits(run, limit: int) -> None:
    result = run(GAS, "spin", [100], context=ExecutionContext(gas_limit=limit))
    assert result.error is not None and result.error.kind is ErrorKind.OUT_OF_GAS
    assert result.gas_used == limit


def test_exact_gas_limit_succeeds(run) -> None:
    needed = run(GAS, "put", input=b"abc").gas_used
    assert run(GAS, "put", input=b"abc", context=ExecutionContext(gas_limit=needed)).ok
    short = run(GAS, "put", input=b"abc", context=ExecutionContext(gas_limit=needed - 1))
    assert short.error is not None and short.error.kind is ErrorKind.OUT_OF_GAS


def test_gas_left_decreases_with_work(run) -> None:
    limit = 1_000_000
    context = ExecutionContext(gas_limit=limit)
    little = run(GAS, "gas_after", [1], context=context).value
    lots = run(GAS, "gas_after", [5000], context=context).value
    assert 0 < lots < little < limit
    assert little - lots >= 4999


def test_gas_left_accounts_for_host_charges(run) -> None:
    code = """
    (module
      (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
      (import "supervm" "gas_left" (func $gas (result i64)))
      (import "supervm" "set_return" (func $ret (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "call")
        (i64.store (i32.const 0) (call $gas))
        (drop (call $set (i32.const 100) (i32.const 1) (i32.const 100) (i32.const 1)))
        (i64.store (i32.const 8) (call $gas))
        (call $ret (i32.const 0) (i32.const 16))))
    """
    result = run(code)
    before, after = struct.unpack("<qq", result.return_data)
    assert before - after >= abi.GAS["storage_set"] + abi.GAS["gas_left"]


@pytest.mark.parametrize(
    "trap",
    ["(drop (i32.div_u (i32.const 1) (i32.const 0)))", "(drop (i32.load (i32.const 70000)))"],
    ids=["div-by-zero", "oob-load"],
)
def test_trap_after_work_charges_the_work(run, trap: str) -> None:
    code = f"""
    (module
      (memory (export "memory") 1)
      (func (export "work") (param $n i32)
        (local $i i32)
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
      (func (export "work_then_trap") (param $n i32)
        (local $i i32)
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        {trap}))
    """
    work = run(code, "work", [100_000])
    trapped = run(code, "work_then_trap", [100_000])
    assert trapped.error is not None and trapped.error.kind is ErrorKind.TRAP
    assert trapped.gas_used >= work.gas_used
