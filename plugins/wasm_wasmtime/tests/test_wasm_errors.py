"""Every bad input gives a clear error, changes nothing committed, and leaves the backend usable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from importlib import resources

import pytest
import wasmtime
from supervm import CallError, ErrorKind, ExecutionContext, ModuleError, StateOverlay
from supervm.state.keys import storage_key
from supervm_wasm_wasmtime import abi

CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de1")
ADD = (
    '(module (func (export "add") (param i32 i32) (result i32)'
    " (i32.add (local.get 0) (local.get 1))))"
)
SET = '(import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))'


@pytest.fixture(autouse=True)
def unchanged(storage, run, committed) -> Iterator[None]:
    """Every test here starts with committed state, must leave it as it was, and must leave
    the backend able to run a good call."""
    storage.set(storage_key(CONTRACT, b"key"), b"committed")
    storage.set(b"\x02unrelated", b"x")
    before = committed()
    yield
    assert committed() == before
    good = run(ADD, "add", [20, 22])
    assert good.ok and good.value == 42


def failed(result, kind: ErrorKind, *fragments: str) -> None:
    """Assert ``result`` failed with ``kind``, a one-line message containing ``fragments``."""
    assert result.error is not None, result
    assert result.error.kind is kind, result.error
    message = result.error.message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert result.events == () and result.logs == ()


# -- modules -----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [b"hello world", b"", b"\x00as", b"(module)"])
def test_bytes_that_are_not_wasm(backend, storage, ctx, code: bytes) -> None:
    with pytest.raises(ModuleError, match=r"\\0asm"):
        backend.execute(code, StateOverlay(storage), ctx)
    assert not backend.accepts(code)


def test_code_that_is_not_bytes(backend, storage, ctx) -> None:
    with pytest.raises(ModuleError, match="must be bytes"):
        backend.execute("(module)", StateOverlay(storage), ctx)  # type: ignore[arg-type]


def test_bytearray_and_memoryview_code_are_accepted(run, wat) -> None:
    code = wat(ADD)
    assert run(bytes(bytearray(code)), "add", [1, 2]).value == 3
    assert run(memoryview(code).tobytes(), "add", [1, 2]).value == 3


@pytest.mark.parametrize(
    "code",
    [
        b"\0asm",
        b"\0asm\x01\x00\x00\x00\xff\xff",
        b"\0asm\x02\x00\x00\x00",
        b"\0asm\x01\x00\x00\x00\x01",
    ],
)
def test_invalid_wasm_binary_with_magic(backend, storage, ctx, code: bytes) -> None:
    assert backend.accepts(code)
    with pytest.raises(ModuleError, match="invalid WebAssembly module") as info:
        backend.execute(code, StateOverlay(storage), ctx)
    assert "\n" not in str(info.value)
    with pytest.raises(ModuleError):
        backend.validate(code)


def test_validate_accepts_good_code(backend, wat) -> None:
    backend.validate(wat(ADD))


def test_unknown_host_function(backend, storage, ctx, wat) -> None:
    code = wat('(module (import "supervm" "nope" (func)) (func (export "call")))')
    with pytest.raises(ModuleError, match=r"unknown host function supervm\.nope"):
        backend.execute(code, StateOverlay(storage), ctx)


def test_unknown_import_module(backend, wat) -> None:
    code = wat('(module (import "env" "storage_get" (func (param i32 i32) (result i64))))')
    with pytest.raises(ModuleError, match=r"env\.storage_get"):
        backend.validate(code)


def test_import_with_a_wrong_signature_names_both(backend, wat) -> None:
    code = wat('(module (import "supervm" "storage_get" (func (param i32) (result i32))))')
    with pytest.raises(ModuleError) as info:
        backend.validate(code)
    message = str(info.value)
    assert "supervm.storage_get" in message
    assert "(i32) -> i32" in message  # what the module asked for
    assert "(i32, i32) -> i64" in message  # what the host defines


def test_import_with_a_missing_result(backend, wat) -> None:
    code = wat('(module (import "supervm" "gas_left" (func)))')
    with pytest.raises(ModuleError, match=r"\(\) -> \(\).*\(\) -> i64"):
        backend.validate(code)


@pytest.mark.parametrize(
    ("import_", "kind"),
    [
        ('(import "env" "memory" (memory 1))', "memory"),
        ('(import "supervm" "g" (global i32))', "global"),
        ('(import "env" "table" (table 1 funcref))', "table"),
    ],
)
def test_importing_anything_but_a_function(backend, wat, import_: str, kind: str) -> None:
    with pytest.raises(ModuleError, match=f"imports {kind}.*only host functions"):
        backend.validate(wat(f"(module {import_})"))


def test_code_larger_than_max_code_size(make_backend, storage, ctx, wat) -> None:
    small = make_backend(max_code_size=1024)
    code = wat(f'(module (memory 1) (data (i32.const 0) "{"x" * 2000}") (func (export "call")))')
    assert len(code) > 1024
    with pytest.raises(ModuleError, match=f"{len(code)} bytes exceeds the code size limit of 1024"):
        small.execute(code, StateOverlay(storage), ctx)
    assert small.execute(wat(ADD), StateOverlay(storage), ctx, entry="add", args=[1, 1]).value == 2


# -- calls -------------------------------------------------------------------------------------


def test_missing_export_names_it_and_lists_exports(backend, storage, ctx, wat) -> None:
    code = wat(
        '(module (memory (export "memory") 1) (func (export "add") (param i32 i32) (result i32)'
        ' (i32.const 0)) (func (export "b")))'
    )
    with pytest.raises(CallError, match=r"no exported function 'nope' \(exports: add, b\)"):
        backend.execute(code, StateOverlay(storage), ctx, entry="nope")


def test_missing_export_when_there_are_none(backend, storage, ctx, wat) -> None:
    with pytest.raises(CallError, match=r"'call' \(exports: none\)"):
        backend.execute(wat("(module)"), StateOverlay(storage), ctx)


@pytest.mark.parametrize("args", [[], [1], [1, 2, 3]])
def test_wrong_argument_count(backend, storage, ctx, wat, args: list[int]) -> None:
    with pytest.raises(CallError, match=rf"takes 2 argument\(s\) \(i32, i32\), got {len(args)}"):
        backend.execute(wat(ADD), StateOverlay(storage), ctx, entry="add", args=args)


def test_arguments_to_an_export_without_parameters(backend, storage, ctx, wat) -> None:
    with pytest.raises(CallError, match=r"takes 0 argument\(s\) \(none\), got 1"):
        backend.execute(
            wat('(module (func (export "call")))'), StateOverlay(storage), ctx, args=[1]
        )


@pytest.mark.parametrize("bad", [1.5, "3", None, True, b"\x01"])
def test_non_integer_argument(backend, storage, ctx, wat, bad: object) -> None:
    with pytest.raises(CallError, match=r"argument 1 of 'add' must be an integer"):
        backend.execute(wat(ADD), StateOverlay(storage), ctx, entry="add", args=[1, bad])


@pytest.mark.parametrize(
    ("export", "value", "type_"),
    [
        ("add", 2**32, "i32"),
        ("add", 2**32 - 1, "i32"),  # would reach the export as -1
        ("add", 2**31, "i32"),
        ("add", -(2**31) - 1, "i32"),
        ("wide", 2**64, "i64"),
        ("wide", 2**63, "i64"),
        ("wide", -(2**63) - 1, "i64"),
    ],
)
def test_out_of_range_argument(backend, storage, ctx, wat, export, value, type_) -> None:
    code = wat(
        '(module (func (export "add") (param i32 i32) (result i32) (i32.const 0))'
        ' (func (export "wide") (param i64 i64) (result i64) (i64.const 0)))'
    )
    with pytest.raises(
        CallError,
        match=rf"argument 0 of '{export}' \({value}\) does not fit in {type_}: it must be between",
    ):
        backend.execute(code, StateOverlay(storage), ctx, entry=export, args=[value, 0])


def test_float_parameters_and_results(backend, storage, ctx, wat) -> None:
    code = wat(
        '(module (func (export "fp") (param f32) (result i32) (i32.const 0))'
        ' (func (export "fr") (result f64) (f64.const 1))'
        ' (func (export "two") (result i32 i32) (i32.const 1) (i32.const 2)))'
    )
    overlay = StateOverlay(storage)
    with pytest.raises(CallError, match=r"takes a f32 argument; only integers are supported"):
        backend.execute(code, overlay, ctx, entry="fp", args=[1])
    with pytest.raises(CallError, match=r"takes 1 argument\(s\) \(f32\), got 0"):
        backend.execute(code, overlay, ctx, entry="fp")
    with pytest.raises(CallError, match=r"returns f64; only integer results are supported"):
        backend.execute(code, overlay, ctx, entry="fr")
    with pytest.raises(CallError, match=r"returns 2 values; at most one is supported"):
        backend.execute(code, overlay, ctx, entry="two")
    assert overlay.changes() == {} and overlay.depth == 0


def test_call_errors_leave_the_overlay_untouched(backend, storage, ctx, wat) -> None:
    overlay = StateOverlay(storage)
    overlay.set(b"buffered", b"1")
    with pytest.raises(CallError):
        backend.execute(wat(ADD), overlay, ctx, entry="add", args=[1])
    with pytest.raises(ModuleError):
        backend.execute(b"junk", overlay, ctx)
    assert overlay.changes() == {b"buffered": b"1"}
    assert overlay.depth == 0


# -- traps -------------------------------------------------------------------------------------

TRAPS = f"""
(module
  {SET}
  (memory (export "memory") 1)
  (data (i32.const 0) "key")
  (func $write (drop (call $set (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3))))
  (func (export "unreachable") (call $write) unreachable)
  (func (export "div") (param i32) (result i32)
    (call $write) (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "overflow") (result i32)
    (call $write) (i32.div_s (i32.const -2147483648) (i32.const -1)))
  (func (export "oob_load") (call $write) (drop (i32.load (i32.const 65534))))
  (func (export "oob_store") (call $write) (i64.store (i32.const 1000000) (i64.const 1)))
  (func $recurse (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "recurse") (result i32) (call $write) (call $recurse (i32.const 0)))
  (func (export "bad_conversion") (result i32)
    (call $write) (i32.trunc_f64_s (f64.const nan)))
  (func (export "trunc_overflow") (result i32)
    (call $write) (i32.trunc_f64_s (f64.const 1e100))))
"""


@pytest.mark.parametrize(
    ("export", "args", "message"),
    [
        ("unreachable", [], "unreachable"),
        ("div", [0], "integer division by zero"),
        ("overflow", [], "integer overflow"),
        ("oob_load", [], "out-of-bounds memory access"),
        ("oob_store", [], "out-of-bounds memory access"),
        ("recurse", [], "stack overflow"),
        ("bad_conversion", [], "invalid conversion to integer"),
        ("trunc_overflow", [], "integer overflow"),
    ],
)
def test_traps(run, export: str, args: list[int], message: str) -> None:
    result = run(TRAPS, export, args)
    failed(result, ErrorKind.TRAP, message)
    # The write made before the trap is reported but discarded.
    assert result.write_set == {storage_key(CONTRACT, b"key")}
    assert result.gas_used <= ExecutionContext().gas_limit


def test_no_trap_when_the_divisor_is_not_zero(run, storage, committed) -> None:
    result = run(TRAPS, "div", [1])
    assert result.ok and result.value == 1
    # This one succeeded, so it committed its write: undo it for the fixture's check.
    assert committed()[storage_key(CONTRACT, b"key")] == b"key"
    storage.set(storage_key(CONTRACT, b"key"), b"committed")


def test_stack_overflow_repeatedly(run) -> None:
    for _ in range(3):
        failed(run(TRAPS, "recurse"), ErrorKind.TRAP, "stack overflow")


# -- memory ------------------------------------------------------------------------------------

GROW = """
(module
  (memory (export "memory") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size_after") (param i32) (result i32)
    (drop (memory.grow (local.get 0))) (memory.size))
  (func (export "grow_and_touch") (param i32) (result i32)
    (drop (memory.grow (local.get 0)))
    (i32.store (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4)) (i32.const 7))
    (i32.load (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4)))))
"""


def test_memory_grow_past_the_limit_returns_minus_one(make_backend, run) -> None:
    small = make_backend(max_memory=1 << 20)  # 16 pages
    assert run(GROW, "grow", [100], vm=small).value == -1
    assert run(GROW, "grow", [16], vm=small).value == -1  # 1 + 16 > 16
    assert run(GROW, "size_after", [100], vm=small).value == 1  # unchanged
    assert run(GROW, "grow", [15], vm=small).value == 1  # old size, up to exactly the limit
    assert run(GROW, "grow_and_touch", [15], vm=small).value == 7
    assert run(GROW, "grow", [0x10000], vm=small).value == -1


def test_memory_grow_within_the_default_limit(run) -> None:
    assert run(GROW, "size_after", [100]).value == 101
    assert run(GROW, "grow", [256]).value == -1  # 16 MiB default


def test_declared_memory_above_the_limit_is_rejected(make_backend, storage, ctx, wat) -> None:
    small = make_backend(max_memory=1 << 20)
    code = wat('(module (memory (export "memory") 17) (func (export "call")))')
    with pytest.raises(ModuleError, match="memory"):
        small.execute(code, StateOverlay(storage), ctx)
    with pytest.raises(ModuleError, match="memory"):
        small.validate(wat('(module (memory 17) (func (export "call")))'))  # not exported
    # Exactly at the limit is fine.
    ok = small.execute(
        wat('(module (memory (export "memory") 16) (func (export "call")))'),
        StateOverlay(storage),
        ctx,
    )
    assert ok.ok


def test_oob_trap_at_the_memory_limit_says_so(make_backend, run) -> None:
    small = make_backend(max_memory=1 << 20)
    code = """(module (memory (export "memory") 16)
                (func (export "call") (drop (i32.load (i32.const 1048576)))))"""
    failed(run(code, vm=small), ErrorKind.TRAP, "out-of-bounds", "limit of 1048576 bytes")


# -- host calls --------------------------------------------------------------------------------

HOST = f"""
(module
  {SET}
  (import "supervm" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (import "supervm" "caller" (func $caller (param i32)))
  (import "supervm" "read_input" (func $rin (param i32)))
  (import "supervm" "emit_event" (func $emit (param i32 i32) (result i32)))
  (import "supervm" "emit_log" (func $log (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "key")
  (func $write (drop (call $set (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3))))
  (func (export "ret") (param i32 i32) (call $write) (call $ret (local.get 0) (local.get 1)))
  (func (export "set") (param i32 i32 i32 i32) (result i32)
    (call $write) (call $set (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "get") (param i32 i32) (result i64)
    (call $write) (call $get (local.get 0) (local.get 1)))
  (func (export "caller") (param i32) (call $write) (call $caller (local.get 0)))
  (func (export "read_input") (param i32) (call $write) (call $rin (local.get 0)))
  (func (export "emit") (param i32 i32) (result i32)
    (call $write) (call $emit (local.get 0) (local.get 1)))
  (func (export "log") (param i32 i32 i32 i32) (result i32)
    (call $write) (call $log (local.get 0) (local.get 1) (local.get 2) (local.get 3))))
"""
MEM = 2 * 65536


@pytest.mark.parametrize(
    ("export", "args", "name"),
    [
        ("ret", [MEM - 10, 11], "set_return"),
        ("ret", [MEM, 1], "set_return"),
        ("ret", [-1, 2], "set_return"),
        ("set", [MEM - 1, 2, 0, 1], "storage_set"),
        ("set", [0, 3, MEM - 5, 10], "storage_set"),
        ("get", [MEM - 2, 3], "storage_get"),
        ("caller", [MEM - 19], "caller"),
        ("emit", [MEM - 1, 2], "emit_event"),
        ("log", [MEM - 32, 2, 0, 1], "emit_log"),
        ("log", [0, 1, MEM - 1, 2], "emit_log"),
    ],
)
def test_host_access_outside_memory(run, export: str, args: list[int], name: str) -> None:
    result = run(HOST, export, args)
    failed(result, ErrorKind.HOST, f"supervm.{name}", "outside")


def test_huge_length_runs_out_of_gas_before_touching_memory(run) -> None:
    # set_return charges per byte before it reads: a 4 GiB length cannot be paid for.
    result = run(HOST, "ret", [0, -1])
    failed(result, ErrorKind.OUT_OF_GAS)
    assert result.gas_used == ExecutionContext().gas_limit


def test_host_write_outside_memory_via_input(run) -> None:
    failed(
        run(HOST, "read_input", [MEM - 2], input=b"abc"), ErrorKind.HOST, "read_input", "outside"
    )


def test_host_access_at_the_very_end_of_memory_is_fine(run, storage) -> None:
    result = run(HOST, "ret", [MEM - 4, 4])
    assert result.ok and result.return_data == bytes(4)
    assert run(HOST, "ret", [MEM, 0]).ok
    # Undo the committed write of the good calls for the fixture's check.
    storage.set(storage_key(CONTRACT, b"key"), b"committed")


def test_host_call_without_memory(run) -> None:
    code = """(module (import "supervm" "set_return" (func $ret (param i32 i32)))
                (func (export "call") (call $ret (i32.const 0) (i32.const 4))))"""
    failed(run(code), ErrorKind.HOST, "supervm.set_return", "memory")


def test_host_call_with_memory_under_another_name(run) -> None:
    code = """(module (import "supervm" "set_return" (func $ret (param i32 i32)))
                (memory (export "mem") 1)
                (func (export "call") (call $ret (i32.const 0) (i32.const 4))))"""
    failed(run(code), ErrorKind.HOST, "supervm.set_return", "'memory'")


def test_host_call_with_memory_that_starts_empty_and_grows(run) -> None:
    code = """(module (import "supervm" "set_return" (func $ret (param i32 i32)))
                (memory (export "memory") 0)
                (func (export "call")
                  (drop (memory.grow (i32.const 1)))
                  (i32.store (i32.const 0) (i32.const 0x64636261))
                  (call $ret (i32.const 0) (i32.const 4))))"""
    result = run(code)
    assert result.ok, result.error
    assert result.return_data == b"abcd"


def test_zero_length_host_access_without_memory_is_not_a_type_error(run) -> None:
    code = """(module (import "supervm" "set_return" (func $ret (param i32 i32)))
                (func (export "call") (call $ret (i32.const 0) (i32.const 0))))"""
    result = run(code)
    # Either reading nothing succeeds, or the error says there is no memory.
    if not result.ok:
        failed(result, ErrorKind.HOST, "supervm.set_return", "'memory'")


def test_host_access_after_memory_growth(run) -> None:
    code = """(module (import "supervm" "set_return" (func $ret (param i32 i32)))
                (memory (export "memory") 1)
                (func (export "call")
                  (drop (memory.grow (i32.const 1)))
                  (i32.store (i32.const 70000) (i32.const 0x64636261))
                  (call $ret (i32.const 70000) (i32.const 4))))"""
    result = run(code)
    assert result.ok, result.error
    assert result.return_data == b"abcd"


def test_oversized_key(run) -> None:
    result = run(HOST, "set", [0, abi.MAX_KEY_SIZE + 1, 0, 1])
    failed(result, ErrorKind.HOST, "supervm.storage_set", "257 bytes", "limit of 256")
    failed(run(HOST, "get", [0, 257]), ErrorKind.HOST, "supervm.storage_get", "limit of 256")


def test_oversized_value(run) -> None:
    result = run(HOST, "set", [0, 3, 0, abi.MAX_VALUE_SIZE + 1])
    failed(result, ErrorKind.HOST, "supervm.storage_set", "65537 bytes", "limit of 65536")


def test_keys_and_values_at_the_limits_are_fine(run, storage, committed) -> None:
    context = ExecutionContext(address=CONTRACT, gas_limit=10**9)
    ok = run(HOST, "set", [0, abi.MAX_KEY_SIZE, 0, abi.MAX_VALUE_SIZE], context=context)
    assert ok.ok, ok.error
    long_key = storage_key(CONTRACT, b"key" + bytes(abi.MAX_KEY_SIZE - 3))
    assert len(committed()[long_key]) == abi.MAX_VALUE_SIZE
    storage.delete(long_key)  # undo the good call's writes for the fixture's check
    storage.set(storage_key(CONTRACT, b"key"), b"committed")


def test_oversized_event(run) -> None:
    failed(run(HOST, "emit", [0, 65537]), ErrorKind.HOST, "supervm.emit_event", "limit of 65536")


def test_oversized_log_data(run) -> None:
    result = run(HOST, "log", [0, 0, 0, 65537])
    failed(result, ErrorKind.HOST, "supervm.emit_log", "65537 bytes", "limit of 65536")


# -- start functions ---------------------------------------------------------------------------


def test_start_function_is_rejected_naming_the_fix(backend, ctx) -> None:
    code = wasmtime.wat2wasm("""(module (func $start nop) (start $start) (func (export "call")))""")
    with pytest.raises(ModuleError, match=r"start function.*_initialize"):
        backend.validate(bytes(code))


def test_initialize_runs_before_every_call(run) -> None:
    code = """(module (import "supervm" "block_number" (func $bn (result i64)))
                (global $g (mut i64) (i64.const 0))
                (func (export "_initialize") (global.set $g (i64.add (global.get $g) (call $bn))))
                (func (export "get") (result i64) (global.get $g)))"""
    context = ExecutionContext(block_number=21)
    assert [run(code, "get", context=context).value for _ in range(2)] == [21, 21]


def test_trap_in_initialize(run) -> None:
    code = """(module (memory (export "memory") 1)
                (func (export "_initialize") unreachable) (func (export "call")))"""
    failed(run(code), ErrorKind.TRAP, "unreachable")


def test_initialize_can_use_pointer_host_functions(run, storage) -> None:
    code = f"""(module {SET} (memory (export "memory") 1) (data (i32.const 0) "kv")
                 (func (export "_initialize")
                   (drop (call $set (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 1))))
                 (func (export "call")))"""
    result = run(code)
    assert result.ok, result.error
    assert result.write_set == {storage_key(CONTRACT, b"k")}
    storage.delete(storage_key(CONTRACT, b"k"))  # undo for the fixture's check


def test_initialize_with_a_signature_is_rejected(backend) -> None:
    code = wasmtime.wat2wasm('(module (func (export "_initialize") (param i32)))')
    with pytest.raises(ModuleError, match="_initialize"):
        backend.validate(bytes(code))


# -- revert ------------------------------------------------------------------------------------


def test_revert_demo(run, committed) -> None:
    text = resources.files("supervm_wasm_wasmtime").joinpath("demo", "revert.wat").read_text()
    result = run(text)
    failed(result, ErrorKind.REVERT)
    assert result.return_data == b"insufficient balance"
    assert result.write_set == {storage_key(CONTRACT, b"key")}


def test_revert_discards_writes_events_and_earlier_return_data(run) -> None:
    code = f"""
    (module
      {SET}
      (import "supervm" "emit_event" (func $emit (param i32 i32) (result i32)))
      (import "supervm" "set_return" (func $ret (param i32 i32)))
      (import "supervm" "revert" (func $revert (param i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "keynew")
      (data (i32.const 32) "no")
      (func (export "call") (param $len i32)
        (drop (call $set (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 3)))
        (drop (call $emit (i32.const 0) (i32.const 3)))
        (call $ret (i32.const 0) (i32.const 6))
        (call $revert (i32.const 32) (local.get $len))
        unreachable))
    """
    result = run(code, "call", [2])
    failed(result, ErrorKind.REVERT, "reverted")
    assert result.return_data == b"no"
    empty = run(code, "call", [0])
    failed(empty, ErrorKind.REVERT)
    assert empty.return_data == b""
    failed(run(code, "call", [100_000]), ErrorKind.HOST, "supervm.revert", "outside")


# -- timeout -----------------------------------------------------------------------------------

LOOP = '(module (func (export "call") (loop $l (br $l))))'


def test_wall_clock_timeout(make_backend, run) -> None:
    slow = make_backend(timeout=0.2)
    context = ExecutionContext(address=CONTRACT, gas_limit=10**15)
    start = time.monotonic()
    result = run(LOOP, context=context, vm=slow)
    elapsed = time.monotonic() - start
    failed(result, ErrorKind.TIMEOUT, "wall-clock", "0.2 s")
    assert result.gas_used <= 10**15
    assert elapsed < 5
    # The backend keeps working, and a second runaway call is stopped too.
    assert run(ADD, "add", [1, 2], vm=slow).value == 3
    failed(run(LOOP, context=context, vm=slow), ErrorKind.TIMEOUT)


def test_timeout_discards_writes(make_backend, run) -> None:
    slow = make_backend(timeout=0.2)
    code = f"""(module {SET} (memory (export "memory") 1) (data (i32.const 0) "keynew")
                (func (export "call")
                  (drop (call $set (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 3)))
                  (loop $l (br $l))))"""
    result = run(code, context=ExecutionContext(address=CONTRACT, gas_limit=10**15), vm=slow)
    failed(result, ErrorKind.TIMEOUT)


def test_long_timeout_does_not_interrupt_short_calls(make_backend, run) -> None:
    patient = make_backend(timeout=1e9)
    result = run(ADD, "add", [1, 2], vm=patient)
    assert result.ok, result.error
    assert result.value == 3
