"""Running one call on two backends and comparing everything it did.

The Python path (backend ``wasm``) is the reference for the native one: a call must give the same
result (value, return data, events, logs, gas, read and write sets, error), leave the same
buffered changes in the state overlay, record the same keys in its read and write sets, and
commit the same storage. :func:`outcome` captures all of that for one backend;
:func:`host_call_program` is a contract that interprets its call data as a list of host calls
with arbitrary arguments, so that tests and the fuzzer can drive every host function with
hostile pointers, lengths and gas limits.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from supervm import (
    Call,
    CallError,
    ExecutionBackend,
    ExecutionContext,
    ExecutionResult,
    ModuleError,
    StateOverlay,
)
from supervm.state.overlay import Pending
from supervm.state.storage import Storage


@attrs.frozen
class Outcome:
    """Everything one call did, as comparable values.

    :param result: the execution result, or ``None`` when the backend raised.
    :param raised: ``(exception class name, message)`` when it raised.
    :param changes: the overlay's buffered changes after the call, in layer order.
    :param reads: the overlay's read set after the call.
    :param writes: the overlay's write set after the call.
    :param committed: the storage after committing the overlay, sorted.
    """

    result: ExecutionResult | None
    raised: tuple[str, str] | None
    changes: tuple[tuple[bytes, Pending], ...]
    reads: frozenset[bytes]
    writes: frozenset[bytes]
    committed: tuple[tuple[bytes, bytes], ...]


def outcome(
    backend: ExecutionBackend,
    code: bytes,
    storage: Storage,
    context: ExecutionContext,
    *,
    entry: str = "call",
    args: Sequence[int] = (),
    input: bytes = b"",
    pending: Iterable[tuple[bytes, Pending]] = (),
    overlay: type[StateOverlay] = StateOverlay,
) -> Outcome:
    """Run one call on a fresh overlay of ``storage`` (committing it) and capture what it did.

    :param pending: changes buffered in the overlay before the call (values, deletions and
        :class:`~supervm.state.overlay.AddU256` additions the call reads through).
    :param overlay: the overlay class (a subclass that overrides ``get`` or ``apply`` is used
        through its methods by the native path).
    """
    state = overlay(storage)
    state.apply(pending)
    state.reset_tracking()
    result: ExecutionResult | None = None
    raised: tuple[str, str] | None = None
    try:
        result = backend.execute(code, state, context, entry=entry, args=args, input=input)
    except (ModuleError, CallError) as exc:
        raised = (type(exc).__name__, str(exc))
    changes = tuple(state.changes().items())
    reads, writes = frozenset(state.reads), frozenset(state.writes)
    state.commit()
    return Outcome(result, raised, changes, reads, writes, tuple(storage.iterate()))


def compare(
    backends: Sequence[ExecutionBackend],
    code: bytes,
    storage_factory: Callable[[], Storage],
    context: ExecutionContext,
    *,
    initial: Mapping[bytes, bytes] | None = None,
    **call: object,
) -> list[Outcome]:
    """:func:`outcome` of the same call on each backend, each on its own fresh storage."""
    outcomes = []
    for backend in backends:
        storage = storage_factory()
        if initial:
            storage.write_batch(sorted(initial.items()))
        outcomes.append(outcome(backend, code, storage, context, **call))  # type: ignore[arg-type]
    return outcomes


@attrs.frozen
class BlockOutcome:
    """Everything a block of calls did on one overlay, as comparable values.

    :param results: the calls' results in block order.
    :param changes: the overlay's buffered changes after the block, in layer order.
    :param deltas: whether the overlay may hold pending additions (its fast-path flag; the
        Python path sets it for a failed call's addition too, so only its soundness counts).
    :param reads: the overlay's read set after the block.
    :param writes: the overlay's write set after the block.
    :param committed: the storage after committing the overlay, sorted.
    """

    results: tuple[ExecutionResult, ...]
    changes: tuple[tuple[bytes, Pending], ...]
    deltas: bool
    reads: frozenset[bytes]
    writes: frozenset[bytes]
    committed: tuple[tuple[bytes, bytes], ...]


def _block_state(storage: Storage, pending: Iterable[tuple[bytes, Pending]]) -> StateOverlay:
    state = StateOverlay(storage)
    state.apply(pending)
    state.reset_tracking()
    return state


def _finish(
    results: Sequence[ExecutionResult], state: StateOverlay, storage: Storage
) -> BlockOutcome:
    changes = tuple(state.changes().items())
    reads, writes = frozenset(state.reads), frozenset(state.writes)
    deltas = bool(state._deltas)
    state.commit()
    return BlockOutcome(tuple(results), changes, deltas, reads, writes, tuple(storage.iterate()))


def serial_block(
    backend: ExecutionBackend,
    calls: Sequence[Call],
    storage: Storage,
    pending: Iterable[tuple[bytes, Pending]] = (),
) -> BlockOutcome:
    """The reference: ``calls`` one after another on one overlay of ``storage``."""
    state = _block_state(storage, pending)
    results = [
        backend.execute(c.code, state, c.context, entry=c.entry, args=c.args, input=c.input)
        for c in calls
    ]
    return _finish(results, state, storage)


def native_block(
    backend: Any,
    calls: Sequence[Call],
    storage: Storage,
    pending: Iterable[tuple[bytes, Pending]] = (),
    **options: Any,
) -> tuple[BlockOutcome, Any]:
    """``calls`` through the native block executor: the outcome and its statistics.

    Raises AssertionError when the block does not run natively or is abandoned.
    """
    state = _block_state(storage, pending)
    run = backend.execute_block(calls, state, **options)
    assert run is not None, "the block did not run on the native block executor"
    assert run.results is not None, f"the block was abandoned: {run.abandoned}"
    return _finish(run.results, state, storage), run.stats


# -- a contract that makes whatever host calls its input asks for ---------------------------------

#: ``(name, parameter count, result type or "")`` of each host function, by opcode.
HOST_OPS: tuple[tuple[str, int, str], ...] = (
    ("storage_get", 2, "i64"),
    ("storage_read_value", 2, "i32"),
    ("storage_read", 4, "i64"),
    ("storage_set", 4, "i32"),
    ("storage_delete", 2, "i32"),
    ("storage_add", 3, "i32"),
    ("block_number", 0, "i64"),
    ("timestamp", 0, "i64"),
    ("emit_event", 2, "i32"),
    ("events_len", 0, "i32"),
    ("read_event", 3, "i32"),
    ("emit_log", 4, "i32"),
    ("caller", 1, ""),
    ("self_address", 1, ""),
    ("input_len", 0, "i32"),
    ("read_input", 1, ""),
    ("set_return", 2, ""),
    ("revert", 2, ""),
    ("gas_left", 0, "i64"),
    ("sha256", 3, "i32"),
    ("keccak256", 3, "i32"),
)
#: Opcodes past the host functions: memory and instruction operations.
OP_GROW, OP_BURN, OP_TRAP, OP_LOAD, OP_STORE8, OP_FILL = range(len(HOST_OPS), len(HOST_OPS) + 6)
N_OPS = OP_FILL + 1
#: Where the program keeps its input, and the results of its operations (8 bytes each).
PROGRAM_AT = 0xC000
RESULTS_AT = 0xA000
MAX_PROGRAM = 0x4000
OP_SIZE = 17


def host_call_program() -> str:
    """WAT of the interpreter contract: input = ops of 17 bytes (opcode, four i32 arguments).

    Each op's result is stored as an i64 at ``RESULTS_AT`` (a ring of 1,024); at the end the
    results written so far become the return data. Ops: every host function of
    :data:`HOST_OPS` with the op's first arguments, then memory.grow, a fuel-burning loop,
    ``unreachable``, a load, a byte store and memory.fill.
    """
    imports = []
    for name, nparams, result in HOST_OPS:
        params = f" (param{' i32' * nparams})" if nparams else ""
        results = f" (result {result})" if result else ""
        imports.append(f'  (import "supervm" "{name}" (func ${name}{params}{results}))')
    arg_names = ["$a", "$b", "$c", "$d"]
    bodies = []
    for name, nparams, result in HOST_OPS:
        call = f"(call ${name} {' '.join(f'(local.get {a})' for a in arg_names[:nparams])})"
        if result == "i64":
            bodies.append(f"(call $push {call})")
        elif result == "i32":
            bodies.append(f"(call $push (i64.extend_i32_s {call}))")
        else:
            bodies.append(f"{call} (call $push (i64.const 0))")
    bodies += [
        "(call $push (i64.extend_i32_s (memory.grow (i32.and (local.get $a) (i32.const 7)))))",
        "(local.set $i (i32.and (local.get $a) (i32.const 0xffff)))"
        " (block $x (loop $l (br_if $x (i32.eqz (local.get $i)))"
        " (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br $l)))"
        " (call $push (i64.const 0))",
        "unreachable",
        "(call $push (i64.extend_i32_u (i32.load (local.get $a))))",
        "(i32.store8 (local.get $a) (local.get $b)) (call $push (i64.const 0))",
        "(memory.fill (local.get $a) (local.get $b) (i32.and (local.get $c) (i32.const 0xffff)))"
        " (call $push (i64.const 0))",
    ]
    labels = [f"$op{i}" for i in range(len(bodies))]
    dispatch = "(br_table " + " ".join(labels) + " $done (local.get $op))"
    nested = dispatch
    for label, body in zip(labels, bodies, strict=True):
        nested = f"(block {label} {nested})\n          {body} (br $done)"
    return "\n".join(
        [
            "(module",
            *imports,
            '  (memory (export "memory") 1 8)',
            "  (global $out (mut i32) (i32.const 0))",
            "  (func $push (param $v i64)",
            f"    (i64.store (i32.add (i32.const {RESULTS_AT})"
            " (i32.shl (global.get $out) (i32.const 3))) (local.get $v))",
            "    (global.set $out (i32.and (i32.add (global.get $out) (i32.const 1))"
            " (i32.const 1023))))",
            '  (func (export "call")',
            "    (local $len i32) (local $pc i32) (local $op i32) (local $i i32)",
            "    (local $a i32) (local $b i32) (local $c i32) (local $d i32)",
            "    (local.set $len (call $input_len))",
            f"    (if (i32.gt_u (local.get $len) (i32.const {MAX_PROGRAM})) (then unreachable))",
            f"    (call $read_input (i32.const {PROGRAM_AT}))",
            f"    (local.set $pc (i32.const {PROGRAM_AT}))",
            "    (block $end (loop $next",
            f"      (br_if $end (i32.gt_u (i32.add (local.get $pc) (i32.const {OP_SIZE}))"
            f" (i32.add (i32.const {PROGRAM_AT}) (local.get $len))))",
            "      (local.set $op (i32.load8_u (local.get $pc)))",
            "      (local.set $a (i32.load offset=1 (local.get $pc)))",
            "      (local.set $b (i32.load offset=5 (local.get $pc)))",
            "      (local.set $c (i32.load offset=9 (local.get $pc)))",
            "      (local.set $d (i32.load offset=13 (local.get $pc)))",
            f"      (local.set $pc (i32.add (local.get $pc) (i32.const {OP_SIZE})))",
            f"      (block $done\n          {nested})",
            "      (br $next)))",
            f"    (call $set_return (i32.const {RESULTS_AT})"
            " (i32.shl (global.get $out) (i32.const 3))))",
            ")",
        ]
    )


def encode_ops(ops: Iterable[tuple[int, int, int, int, int]]) -> bytes:
    """Call data for :func:`host_call_program`: ``(opcode, a, b, c, d)`` per op, u32 arguments."""
    return b"".join(
        struct.pack("<BIIII", op, a & 0xFFFFFFFF, b & 0xFFFFFFFF, c & 0xFFFFFFFF, d & 0xFFFFFFFF)
        for op, a, b, c, d in ops
    )
