"""Every native host function against the Python one, driven by generated programs.

The interpreter contract (``host_call_program``) makes whatever host calls its input lists, with
arbitrary pointers and lengths: inside memory, across its end, past 2**31, after memory.grow.
Hypothesis writes the programs, the gas limits, the storage the call starts on and changes
buffered in the overlay below it (values, deletions, pending additions); both paths must agree on
everything (see ``same`` in conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supervm import ErrorKind, ExecutionContext, StateOverlay
from supervm.state.overlay import AddU256
from supervm_wasm_native.differential import (
    HOST_OPS,
    N_OPS,
    OP_BURN,
    OP_FILL,
    OP_GROW,
    OP_LOAD,
    OP_STORE8,
    OP_TRAP,
    encode_ops,
    host_call_program,
)

CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de1")
OPS = {name: i for i, (name, _, _) in enumerate(HOST_OPS)}
PAGE = 65536

pointers = st.one_of(
    st.integers(0, 96),
    st.sampled_from([0xA000 - 8, PAGE - 33, PAGE - 32, PAGE - 20, PAGE - 1, PAGE, PAGE + 64,
                     2 * PAGE - 16, 2**31, 2**32 - 32, 2**32 - 1]),
    st.integers(0, 2**32 - 1),
)  # fmt: skip
lengths = st.one_of(
    st.integers(0, 40),
    st.sampled_from([255, 256, 257, 4096, 65535, 65536, 65537, 2**31, 2**32 - 1]),
    st.integers(0, 2**32 - 1),
)
op = st.tuples(st.integers(0, N_OPS), pointers, lengths, pointers, lengths)
# Storage ops aimed at a handful of keys (memory is mostly zeros: keys of n zero bytes).
storage_op = st.tuples(
    st.sampled_from([OPS[n] for n in ("storage_get", "storage_read", "storage_read_value",
                                      "storage_set", "storage_add", "storage_delete")]),
    st.integers(0, 8), st.integers(0, 6), st.integers(0, 200), st.integers(0, 40),
)  # fmt: skip
poke = st.tuples(
    st.just(OP_STORE8), st.integers(0, 64), st.integers(0, 255), st.just(0), st.just(0)
)
# Calls that mostly succeed, so that later calls (and the return data) still count.
benign_op = st.tuples(
    st.integers(0, len(HOST_OPS) - 1).filter(lambda o: o != OPS["revert"]),
    st.integers(0, 4) | st.integers(0, 1024), st.integers(0, 4) | st.integers(0, 64),
    st.integers(0, 1024),
    st.integers(0, 4) | st.integers(0, 64),
)  # fmt: skip
# A run of mostly succeeding calls, then maybe one hostile op (which would end a longer run
# early and hide everything after it).
programs = st.tuples(
    st.lists(st.one_of(storage_op, storage_op, poke, benign_op, benign_op), max_size=30),
    st.lists(op, max_size=1),
).map(lambda parts: parts[0] + parts[1])
gas_limits = st.one_of(
    st.sampled_from([0, 1, 200, 5_000, 12_000, 60_000, 10_000_000]), st.integers(0, 2_000_000)
)
u64 = st.one_of(st.integers(0, 1000), st.integers(0, 2**64 - 1))


def storage_key(n: int) -> bytes:
    return b"\x01" + CONTRACT + bytes(n)


keys = st.integers(0, 6).map(storage_key)
values = st.binary(max_size=40)
initial_storage = st.dictionaries(keys, values.filter(bool), max_size=4)
pending_changes = st.lists(
    st.tuples(keys, st.one_of(values, st.none(), st.integers(0, 2**256 - 1).map(AddU256))),
    max_size=4,
)


class MethodOverlay(StateOverlay):
    """An overlay the native path must use through its methods (they are overridden)."""

    __slots__ = ()

    def get(self, key: bytes) -> bytes | None:
        return super().get(key)

    def apply(self, changes: Any) -> None:
        super().apply(changes)


@pytest.fixture(scope="module")
def program(wat: Callable[[str], bytes]) -> bytes:
    return wat(host_call_program())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=programs,
    gas=gas_limits,
    initial=initial_storage,
    pending=pending_changes,
    block=u64,
    stamp=u64,
    methods=st.booleans(),
)
def test_generated_programs_agree(
    same: Any,
    program: bytes,
    ops: list[tuple[int, int, int, int, int]],
    gas: int,
    initial: dict[bytes, bytes],
    pending: list[tuple[bytes, Any]],
    block: int,
    stamp: int,
    methods: bool,
) -> None:
    context = ExecutionContext(
        block_number=block, timestamp=stamp, caller=b"\x11" * 20, address=CONTRACT, gas_limit=gas
    )
    overlay = MethodOverlay if methods else StateOverlay
    same(program, context, input=encode_ops(ops), initial=initial, pending=pending, overlay=overlay)


def run(
    same: Any, program: bytes, ops: list[tuple[int, ...]], gas: int = 10_000_000, **kw: Any
) -> Any:
    context = ExecutionContext(caller=b"\x11" * 20, address=CONTRACT, gas_limit=gas)
    return same(program, context, input=encode_ops(ops), **kw)  # type: ignore[arg-type]


# The cases below pin behaviours the generated programs reach only by luck.


def test_storage_semantics_within_one_call(same: Any, program: bytes) -> None:
    out = run(same, program, [
        (OPS["storage_add"], 0, 3, 100, 0),     # add to an absent key: a pending addition
        (OP_STORE8, 100, 5, 0, 0),
        (OPS["storage_add"], 0, 3, 100, 0),     # merged additions
        (OPS["storage_get"], 0, 3, 0, 0),       # reads base + sum
        (OPS["storage_read_value"], 200, 64, 0, 0),
        (OPS["storage_set"], 0, 2, 300, 7),
        (OPS["storage_add"], 0, 2, 100, 0),     # onto a value set in this call: a plain value
        (OPS["storage_delete"], 0, 1, 0, 0),
        (OPS["storage_add"], 0, 1, 100, 0),     # onto a deletion: the amount
        (OPS["storage_read"], 0, 1, 400, 8),
    ], initial={storage_key(3): b"\x07"},
       pending=[(storage_key(3), AddU256(2**256 - 1))])  # fmt: skip
    assert out.result.ok
    # The call's additions (0, then 5) merge into the pending one below it.
    assert dict(out.changes)[storage_key(3)] == AddU256(2**256 - 1 + 5)
    assert dict(out.committed)[storage_key(3)] == (7 - 1 + 5).to_bytes(32, "little")
    assert dict(out.committed)[storage_key(1)] == (5).to_bytes(32, "little")


def test_addition_without_a_read_stays_a_delta(same: Any, program: bytes) -> None:
    out = run(same, program, [(OP_STORE8, 100, 9, 0, 0), (OPS["storage_add"], 0, 4, 100, 0)])
    assert out.result.ok
    assert dict(out.changes) == {storage_key(4): AddU256(9)}
    assert out.reads == frozenset()


def test_memory_growth_is_seen_by_host_calls(same: Any, program: bytes) -> None:
    grown = run(same, program, [(OP_GROW, 1, 0, 0, 0), (OPS["caller"], PAGE + 10, 0, 0, 0)])
    assert grown.result.ok
    short = run(same, program, [(OPS["caller"], PAGE + 10, 0, 0, 0)])
    assert short.result.error.kind is ErrorKind.HOST
    assert "outside the module's 65536 bytes" in short.result.error.message


@pytest.mark.parametrize(
    ("ops", "kind"),
    [
        ([(OPS["storage_set"], 0, 257, 0, 1)], ErrorKind.HOST),
        ([(OPS["storage_set"], 0, 1, 0, 65537)], ErrorKind.HOST),
        ([(OPS["emit_log"], 0, 5, 0, 0)], ErrorKind.HOST),
        ([(OPS["emit_event"], 0, 65537, 0, 0)], ErrorKind.HOST),
        ([(OPS["storage_read_value"], 0, 1, 0, 0)], ErrorKind.HOST),
        ([(OPS["keccak256"], 2**32 - 1, 2, 0, 0)], ErrorKind.HOST),
        ([(OPS["revert"], 0, 12, 0, 0)], ErrorKind.REVERT),
        ([(OPS["set_return"], 0, 2**31, 0, 0)], ErrorKind.OUT_OF_GAS),
        ([(OP_BURN, 0xFFFF, 0, 0, 0)], ErrorKind.OUT_OF_GAS),
        ([(OP_TRAP, 0, 0, 0, 0)], ErrorKind.TRAP),
        ([(OP_LOAD, PAGE, 0, 0, 0)], ErrorKind.TRAP),
        ([(OP_FILL, PAGE - 1, 0, 2, 0)], ErrorKind.TRAP),
    ],
)
def test_failures_agree(
    same: Any, program: bytes, ops: list[tuple[int, ...]], kind: ErrorKind
) -> None:
    out = run(same, program, [(OPS["storage_set"], 0, 1, 0, 1), *ops], gas=200_000)
    assert out.result.error is not None and out.result.error.kind is kind
    assert out.changes == ()  # a failed call's writes are dropped
    assert out.writes == frozenset({storage_key(1)})  # but its write set is reported


def test_host_charges_past_the_limit_fail_at_the_end(same: Any, program: bytes) -> None:
    # Storage per-byte charges are checked at the call's end (docs/host-abi.md).
    out = run(same, program, [(OPS["storage_set"], 0, 200, 0, 60000)], gas=120_000)
    assert out.result.error.kind is ErrorKind.OUT_OF_GAS
    assert out.result.gas_used == 120_000


def test_edges_of_the_kept_value_and_the_event_list(same: Any, program: bytes) -> None:
    out = run(same, program, [
        (OPS["storage_get"], 0, 2, 0, 0),          # present: keeps the value
        (OPS["storage_get"], 0, 3, 0, 0),          # absent: keeps nothing
        (OPS["emit_event"], 0, 4, 0, 0),
        (OPS["read_event"], 1, 64, 8, 0),          # index == number of events: -1
        (OPS["read_event"], 0, 64, 2, 0),          # truncated to 2 bytes
        (OPS["storage_read_value"], 64, 8, 0, 0),  # fails: the last get found nothing
    ], initial={storage_key(2): b"abc"})  # fmt: skip
    assert out.result.error.message == (
        "supervm.storage_read_value: storage_read_value without a value from storage_get"
    )
    ok = run(same, program, [
        (OPS["emit_event"], 0, 4, 0, 0), (OPS["read_event"], 1, 64, 8, 0),
        (OPS["read_event"], 0, 64, 2, 0),
    ])  # fmt: skip
    results = ok.result.return_data
    assert int.from_bytes(results[8:16], "little", signed=True) == -1
    assert int.from_bytes(results[16:24], "little") == 2


def test_gas_left_and_context(same: Any, program: bytes) -> None:
    context = ExecutionContext(
        block_number=2**64 - 1, timestamp=2**63, caller=b"\x11" * 20, address=CONTRACT
    )
    ops = [(OPS["gas_left"], 0, 0, 0, 0), (OPS["block_number"], 0, 0, 0, 0),
           (OPS["timestamp"], 0, 0, 0, 0), (OPS["self_address"], 8, 0, 0, 0)]  # fmt: skip
    out = same(program, context, input=encode_ops(ops))
    assert out.result.ok
    data = out.result.return_data
    assert len(data) == 8 * 4
    # u64 context values reach the contract as i64 bit patterns.
    assert data[8:16] == b"\xff" * 8 and data[16:24] == (2**63).to_bytes(8, "little")


BELOW = {
    "absent": [],
    "value": [(storage_key(2), b"\x05\x01")],
    "long value": [(storage_key(2), b"\xff" * 40)],
    "empty value": [(storage_key(2), b"")],
    "deletion": [(storage_key(2), None)],
    "addition": [(storage_key(2), AddU256(2**256 - 3))],
}
CALLS = {
    "add": [(OPS["storage_add"], 0, 2, 100, 0)],
    "add twice": [(OPS["storage_add"], 0, 2, 100, 0), (OPS["storage_add"], 0, 2, 100, 0)],
    "read then add": [(OPS["storage_get"], 0, 2, 0, 0), (OPS["storage_add"], 0, 2, 100, 0)],
    "add then read": [(OPS["storage_add"], 0, 2, 100, 0), (OPS["storage_read"], 0, 2, 300, 64)],
    "set then add": [(OPS["storage_set"], 0, 2, 200, 3), (OPS["storage_add"], 0, 2, 100, 0)],
    "delete then add": [(OPS["storage_delete"], 0, 2, 0, 0), (OPS["storage_add"], 0, 2, 100, 0)],
    "add then delete": [(OPS["storage_add"], 0, 2, 100, 0), (OPS["storage_delete"], 0, 2, 0, 0)],
}


@pytest.mark.parametrize("below", sorted(BELOW))
@pytest.mark.parametrize("calls", sorted(CALLS))
@pytest.mark.parametrize("methods", [False, True])
def test_additions_merge_onto_what_lies_below(
    same: Any, program: bytes, below: str, calls: str, methods: bool
) -> None:
    amount = [(OP_STORE8, 100, 0xFE, 0, 0), (OP_STORE8, 131, 0x80, 0, 0)]  # 2**255 + 254
    ops = amount + CALLS[calls]
    context = ExecutionContext(caller=b"\x11" * 20, address=CONTRACT)
    out = same(
        program,
        context,
        input=encode_ops(ops),
        initial={storage_key(2): b"\x09"},
        pending=BELOW[below],
        overlay=MethodOverlay if methods else StateOverlay,
    )
    assert out.result.ok
