"""The native block executor against the Python path, call by call.

A block run by ``NativeWasmBackend.execute_block`` (optimistic execution on native threads,
validation in block order, re-execution of stale calls, additions as deltas, the serial
fallback past the re-execution bound) must equal the same calls run one after another by the
Python backend on one overlay: every result, the overlay's buffered changes in layer order, its
pending-addition flag (when additions are pending), its read and write sets, and the committed
storage. Hypothesis writes the blocks: the interpreter contract's host calls over a handful of
keys (so that calls conflict), hostile pointers and lengths, low gas limits, storage and changes
buffered below the block; and the project's ERC20.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_abi.abi import encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supervm import Call, ErrorKind, ExecutionContext, StateOverlay
from supervm.state.overlay import AddU256
from supervm.state.storage import Storage
from supervm.tooling.abi import selector
from supervm_wasm_native import NativeWasmBackend
from supervm_wasm_native.differential import (
    HOST_OPS,
    N_OPS,
    OP_STORE8,
    encode_ops,
    host_call_program,
    native_block,
    serial_block,
)
from supervm_wasm_wasmtime import WasmtimeBackend

CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de1")
OPS = {name: i for i, (name, _, _) in enumerate(HOST_OPS)}
STORAGE_OPS = [
    OPS[n]
    for n in ("storage_get", "storage_read", "storage_read_value", "storage_set", "storage_add",
              "storage_delete")
]  # fmt: skip

# Keys of 0 to 3 bytes at memory 0 (zeros, unless poked): a handful of keys, many conflicts.
storage_op = st.tuples(
    st.sampled_from(STORAGE_OPS), st.integers(0, 2), st.integers(0, 3), st.integers(0, 200),
    st.integers(0, 40),
)  # fmt: skip
poke = st.tuples(st.just(OP_STORE8), st.integers(0, 3), st.integers(0, 3), st.just(0), st.just(0))
hostile = st.tuples(
    st.integers(0, N_OPS), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
)  # fmt: skip
benign = st.tuples(
    st.integers(0, len(HOST_OPS) - 1).filter(lambda o: o != OPS["revert"]),
    st.integers(0, 64), st.integers(0, 64), st.integers(0, 1024), st.integers(0, 64),
)  # fmt: skip
programs = st.tuples(
    st.lists(st.one_of(storage_op, storage_op, storage_op, poke, benign), max_size=12),
    st.lists(hostile, max_size=1),
).map(lambda parts: parts[0] + parts[1])
gas_limits = st.one_of(st.just(10_000_000), st.just(10_000_000), st.integers(0, 60_000))
callers = st.integers(0, 3).map(lambda i: bytes([0x11 + i]) * 20)


def storage_key(n: int) -> bytes:
    return b"\x01" + CONTRACT + bytes(n)


keys = st.integers(0, 3).map(storage_key)
values = st.binary(max_size=40)
initial_storage = st.dictionaries(keys, values.filter(bool), max_size=4)
pending_changes = st.lists(
    st.tuples(keys, st.one_of(values, st.none(), st.integers(0, 2**256 - 1).map(AddU256))),
    max_size=4,
)


@pytest.fixture(scope="module")
def program(wat: Callable[[str], bytes]) -> bytes:
    return wat(host_call_program())


def check_block(
    backends: tuple[WasmtimeBackend, NativeWasmBackend],
    storage_factory: Callable[[], Storage],
    calls: list[Call],
    initial: dict[bytes, bytes] | None = None,
    pending: list[tuple[bytes, Any]] | None = None,
    **options: Any,
) -> Any:
    """Run ``calls`` on the Python path one by one and as a native block; require equality."""
    python, native = backends
    outcomes = []
    for _ in range(2):
        storage = storage_factory()
        if initial:
            storage.write_batch(sorted(initial.items()))
        outcomes.append(storage)
    reference = serial_block(python, calls, outcomes[0], pending or ())
    got, stats = native_block(native, calls, outcomes[1], pending or (), **options)
    assert len(got.results) == len(reference.results)
    for i, (a, b) in enumerate(zip(got.results, reference.results, strict=True)):
        assert a == b, f"call {i} differs"
    assert got.changes == reference.changes
    # The overlay's flag says additions *may* be pending (the Python path also sets it for a
    # failed call's addition): it must be set whenever one is.
    assert got.deltas or not any(type(v) is AddU256 for _, v in got.changes)
    assert got.reads == reference.reads
    assert got.writes == reference.writes
    assert got.committed == reference.committed
    return stats


def host_calls(program: bytes, blocks: list[tuple[list[Any], int, bytes]]) -> list[Call]:
    return [
        Call(
            code=program,
            input=encode_ops(ops),
            context=ExecutionContext(caller=caller, address=CONTRACT, gas_limit=gas),
            vm="wasm-native",
        )
        for ops, gas, caller in blocks
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    block=st.lists(st.tuples(programs, gas_limits, callers), min_size=1, max_size=24),
    initial=initial_storage,
    pending=pending_changes,
    threads=st.sampled_from([1, 2, 4]),
    bound=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
)
def test_generated_blocks_agree(
    backends: Any,
    storage_factory: Any,
    program: bytes,
    block: list[tuple[list[Any], int, bytes]],
    initial: dict[bytes, bytes],
    pending: list[tuple[bytes, Any]],
    threads: int,
    bound: float,
) -> None:
    calls = host_calls(program, block)
    check_block(
        backends, storage_factory, calls, initial, pending, threads=threads,
        max_reexecutions=bound,
    )  # fmt: skip


def test_a_hot_spot_is_reexecuted_then_runs_serially(
    backends: Any, storage_factory: Any, program: bytes
) -> None:
    # Every call reads and rewrites key 0: each conflicts with every earlier one.
    ops = [(OPS["storage_read"], 0, 1, 4096, 32), (OPS["storage_add"], 0, 1, 0xC000, 0)]
    calls = host_calls(program, [(ops, 10_000_000, b"\x11" * 20)] * 400)
    stats = check_block(backends, storage_factory, calls, threads=2, max_reexecutions=0.05)
    assert stats.threads == 2
    assert len(calls) <= stats.executions < 2 * len(calls)
    # The bound was hit unless the other thread never got a call in (a loaded machine); past
    # it, only results the other thread had already finished are checked (and maybe re-run).
    assert stats.serial_from < len(calls) or stats.reexecutions <= 0.05 * len(calls)


def test_additions_do_not_conflict(backends: Any, storage_factory: Any, program: bytes) -> None:
    # Calls that only add to one key neither read it nor conflict: no re-execution at all.
    add = [(OPS["storage_add"], 0, 1, 0xC000, 0)]
    calls = host_calls(program, [(add, 10**7, b"\x11" * 20)] * 300)
    stats = check_block(backends, storage_factory, calls, threads=2)
    assert stats.reexecutions == 0
    # The committer reads the key's value once, for the sum the cache holds.
    assert stats.misses == 1


def test_prefetched_keys_are_not_missed(
    backends: Any, storage_factory: Any, program: bytes
) -> None:
    ops = [(OPS["storage_read"], 0, 2, 4096, 32)]
    calls = host_calls(program, [(ops, 10**7, b"\x11" * 20)] * 10)
    initial = {storage_key(2): b"\x05" * 32}
    stats = check_block(backends, storage_factory, calls, initial, prefetch=[storage_key(2)])
    assert stats.misses == 0
    stats = check_block(backends, storage_factory, calls, initial)
    assert stats.misses == 1


def test_a_full_state_cache_abandons_the_block_untouched(
    backends: Any, storage_factory: Any, program: bytes
) -> None:
    # Two calls writing 700 distinct keys each: more than the cache holds for two calls.
    # (Keys are 8 bytes of the program itself, at a different offset in each call.)
    programs = [
        [(OPS["storage_set"], 0xC000 + 17 * i + shift, 8, 0, 4) for i in range(700)]
        for shift in (0, 1)
    ]
    calls = host_calls(program, [(ops, 10**9, b"\x11" * 20) for ops in programs])
    _, native = backends
    state = StateOverlay(storage_factory())
    run = native.execute_block(calls, state, threads=2)
    assert run is not None and run.results is None
    assert "full" in (run.abandoned or "")
    assert not state.changes() and not state.reads and not state.writes


class FailingStorage:
    """A storage whose reads fail: the block is abandoned, the serial path reports it."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def get(self, key: bytes) -> bytes | None:
        raise OSError("disk on fire")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_failing_storage_abandons_the_block(
    backends: Any, storage_factory: Any, program: bytes
) -> None:
    calls = host_calls(program, [([(OPS["storage_get"], 0, 1, 0, 0)], 10**7, b"\x11" * 20)] * 4)
    _, native = backends
    state = StateOverlay(FailingStorage(storage_factory()))  # type: ignore[arg-type]
    run = native.execute_block(calls, state, threads=2)
    assert run is not None and run.results is None
    assert "disk on fire" in (run.abandoned or "")
    assert not state.changes()


def test_blocks_the_executor_does_not_take(
    backends: Any, program: bytes, wat: Callable[[str], bytes], storage_factory: Any
) -> None:
    _, native = backends
    ctx = ExecutionContext(caller=b"\x11" * 20, address=CONTRACT)
    good = Call(code=program, context=ctx, vm="wasm-native")
    python_host = wat(
        '(module (import "supervm" "verify_ed25519" (func (param i32 i32 i32 i32) (result i32)))'
        ' (memory (export "memory") 1) (func (export "call")))'
    )
    unknown = wat(
        '(module (import "supervm" "call_contract" (func (param i32 i32) (result i32)))'
        ' (func (export "call")))'
    )
    assert native.block_plan([good]) is not None
    for other in (
        Call(code=python_host, context=ctx),  # a host function that is not in C
        Call(code=unknown, context=ctx),  # one the C side does not know at all
        Call(code=b"\0asm junk", context=ctx),  # invalid code
        Call(code=program, entry="deploy", context=ctx),
        Call(code=program, args=(1,), context=ctx),
    ):
        assert native.block_plan([good, other]) is None
        assert native.execute_block([good, other], StateOverlay(storage_factory())) is None


def test_a_subclassed_overlay_is_not_taken(
    backends: Any, program: bytes, storage_factory: Any
) -> None:
    class Recording(StateOverlay):
        __slots__ = ()

        def get(self, key: bytes) -> bytes | None:
            return super().get(key)

    _, native = backends
    call = Call(code=program, context=ExecutionContext(caller=b"\x11" * 20, address=CONTRACT))
    assert native.execute_block([call], Recording(storage_factory())) is None


def test_timeouts_inside_a_block(
    make_backends: Any, storage_factory: Any, wat: Callable[[str], bytes]
) -> None:
    spin = wat('(module (func (export "call") (loop $l (br $l))))')
    quick = wat('(module (func (export "call")))')
    backends = make_backends(timeout=0.2)
    ctx = ExecutionContext(caller=b"\x11" * 20, address=CONTRACT, gas_limit=10**15)
    calls = [Call(code=c, context=ctx) for c in (quick, spin, quick)]
    check_block(backends, storage_factory, calls, threads=2)
    results = backends[1].execute_block(calls, StateOverlay(storage_factory())).results
    assert [r.error.kind if r.error else None for r in results] == [None, ErrorKind.TIMEOUT, None]


# -- the project's ERC20 -------------------------------------------------------------------------

TOKEN = bytes.fromhex("70" * 20)
DEPLOYER = bytes.fromhex("de" * 20)
ACCOUNTS = [DEPLOYER, bytes.fromhex("a1" * 20), bytes.fromhex("b2" * 20), bytes(20)]


def erc20_call(kind: str, sender: int, a: int, b: int, amount: int, gas: int, code: bytes) -> Call:
    x, y = "0x" + ACCOUNTS[a].hex(), "0x" + ACCOUNTS[b].hex()
    if kind == "transferFrom":
        data = selector("transferFrom(address,address,uint256)") + encode(
            ["address", "address", "uint256"], [x, y, amount]
        )
    elif kind == "balanceOf":
        data = selector("balanceOf(address)") + encode(["address"], [y])
    else:
        data = selector(f"{kind}(address,uint256)") + encode(["address", "uint256"], [y, amount])
    context = ExecutionContext(caller=ACCOUNTS[sender], address=TOKEN, gas_limit=gas)
    return Call(code=code, input=data, context=context, vm="wasm-native")


def deployed_token(python: WasmtimeBackend, code: bytes, storage: Storage) -> None:
    state = StateOverlay(storage)
    args = encode(["string", "string", "uint256"], ["Token", "TOK", 10**30])
    deployer = ExecutionContext(caller=DEPLOYER, address=TOKEN)
    assert python.execute(code, state, deployer, entry="deploy", input=args).ok
    for account in ACCOUNTS[1:3]:  # (not the zero address, which the token refuses)
        ctx = ExecutionContext(caller=DEPLOYER, address=TOKEN, gas_limit=10**6)
        data = selector("transfer(address,uint256)") + encode(
            ["address", "uint256"], ["0x" + account.hex(), 10**6]
        )
        assert python.execute(code, state, ctx, input=data).ok
    state.commit()


index = st.integers(0, len(ACCOUNTS) - 1)
erc20_ops = st.tuples(
    st.sampled_from(["transfer", "transfer", "transfer", "approve", "transferFrom", "balanceOf"]),
    index, index, index,
    st.one_of(st.integers(0, 2000), st.just(10**30), st.integers(0, 2**256 - 1)),
    st.one_of(st.just(1_000_000), st.integers(0, 40_000)),
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(erc20_ops, min_size=1, max_size=60), threads=st.sampled_from([1, 2, 3]))
def test_erc20_blocks_agree(
    backends: Any, storage_factory: Any, erc20_code: bytes, ops: list[Any], threads: int
) -> None:
    python, _ = backends
    calls = [erc20_call(kind, s, a, b, amt, gas, erc20_code) for kind, s, a, b, amt, gas in ops]

    def funded() -> Storage:
        storage: Storage = storage_factory()
        deployed_token(python, erc20_code, storage)
        return storage

    check_block(backends, funded, calls, threads=threads)


def test_a_large_erc20_block(backends: Any, storage_factory: Any, erc20_code: bytes) -> None:
    import random

    python, _ = backends
    rng = random.Random(5)
    # Funded accounts only: thousands of reverting calls exhaust the Python path's instance
    # pool (its reverted stores wait for the garbage collector), which is not under test here.
    calls = [
        erc20_call("transfer", rng.randrange(3), 0, rng.randrange(3), rng.randrange(100), 10**6,
                   erc20_code)
        for _ in range(2000)
    ]  # fmt: skip

    def funded() -> Storage:
        storage: Storage = storage_factory()
        deployed_token(python, erc20_code, storage)
        return storage

    stats = check_block(backends, funded, calls, threads=2)
    assert stats.executions >= 2000
    assert 0 <= stats.built_during <= 2000  # (how many depends on the threads' timing)


def test_results_are_left_out_of_the_garbage_collector(
    backends: Any, storage_factory: Any, erc20_code: bytes
) -> None:
    """A block's results cannot form reference cycles (frozen records of bytes, ints, tuples
    and frozensets of bytes), so the C code untracks them: left tracked, every collection walked
    them and each block's results pushed the collector into full collections."""
    import gc

    python, native = backends
    storage: Storage = storage_factory()
    deployed_token(python, erc20_code, storage)
    calls = [erc20_call("transfer", 1, 0, 2, 5, 10**6, erc20_code) for _ in range(3)]
    run = native.execute_block(calls, StateOverlay(storage), threads=1)
    assert run is not None and run.results is not None
    single = native.execute(erc20_code, StateOverlay(storage), calls[0].context,
                            input=calls[0].input)  # fmt: skip
    for result in [*run.results, single]:
        assert result.ok and result.logs, result.error
        parts = [result, result.read_set, result.write_set, result.logs, *result.logs]
        parts += [log.topics for log in result.logs]
        assert not any(gc.is_tracked(p) for p in parts)
