"""Blocks of signed transactions: the parallel scheduler's result is the serial scheduler's.

Transactions run with :class:`~supervm.chain.processor.TransactionExecutor` on a
:class:`~supervm.state.world.WorldState`, which workers rebuild from ``executor.spec()``. The
blocks mix value transfers, calls of the bank contract (``bank.wat``), contract creations,
transactions that fail (revert, trap, out of gas: they still pay and bump the nonce) and
transactions that are rejected (they change nothing).
"""

from __future__ import annotations

import json
import pickle
import sys
import types
from collections.abc import Sequence
from typing import Any

import attrs
import coincurve
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supervm import ExecutionResult, Kernel, StateOverlay
from supervm.builtins.scheduler_serial import SerialScheduler
from supervm.chain.chain import Chain
from supervm.chain.genesis import dev_genesis, parse_genesis
from supervm.chain.processor import BlockEnv, TransactionExecutor, TransactionResult
from supervm.chain.transactions import (
    Transaction,
    UnsignedTransaction,
    keccak256,
    sign_transaction,
)
from supervm.execution.interfaces import ExecutorSpec
from supervm.model import ErrorKind, ExecutionError
from supervm.state.keys import code_hash_key, code_key, nonce_key
from supervm.state.world import WorldState
from supervm_scheduler_parallel import ParallelScheduler
from supervm_scheduler_parallel.scheduler import _BlockRun, _decoded, executor_key
from supervm_scheduler_parallel.worker import execute_items

CHAIN_ID = 1337
CONTRACT = bytes.fromhex("00000000000000000000000000000000000ba4c0")
COINBASE = bytes.fromhex("c0ffee00000000000000000000000000000000c0")
BASE_FEE = 7
FUNDS = 10**18
#: A sender with too little for any transaction's gas.
POOR = 7
KEYS = [(i + 1).to_bytes(32, "big") for i in range(48)]


def _address(key: bytes) -> bytes:
    return keccak256(coincurve.PrivateKey(key).public_key.format(compressed=False)[1:])[12:]


ADDRESSES = [_address(k) for k in KEYS]


def _env(number: int = 1, coinbase: bytes = COINBASE) -> BlockEnv:
    return BlockEnv(
        chain_id=CHAIN_ID,
        number=number,
        timestamp=1_000 + number,
        coinbase=coinbase,
        gas_limit=30_000_000,
        base_fee=BASE_FEE,
    )


def _tx(
    sender: int,
    nonce: int,
    to: bytes | None,
    *,
    value: int = 0,
    data: bytes = b"",
    gas: int = 200_000,
    fee_cap: int = 20,
    chain_id: int = CHAIN_ID,
) -> Transaction:
    unsigned = UnsignedTransaction(
        type=2,
        chain_id=chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=min(2, fee_cap),
        max_fee_per_gas=fee_cap,
        gas=gas,
        to=to,
        value=value,
        data=data,
    )
    return sign_transaction(unsigned, KEYS[sender])


def _bank(op: int, a: int, b: int, amount: int) -> bytes:
    return bytes([op, a, b, amount])


class Nonces:
    """Each sender's next nonce, as a block is put together."""

    def __init__(self) -> None:
        self.next = [0] * len(KEYS)

    def take(self, sender: int) -> int:
        nonce = self.next[sender]
        self.next[sender] += 1
        return nonce


def _storage(kernel: Kernel, bank: bytes) -> Any:
    """A memory storage with the senders funded (all but POOR) and the bank deployed."""
    storage = kernel.open_storage("memory")
    state = WorldState(storage)
    for i, address in enumerate(ADDRESSES):
        state.set_balance(address, 1_000 if i == POOR else FUNDS)
    state.set_code(CONTRACT, bank)
    state.commit()
    return storage


def _compare(
    kernel: Kernel,
    bank: bytes,
    scheduler: ParallelScheduler,
    blocks: Sequence[tuple[BlockEnv, Sequence[Transaction]]],
) -> list[tuple[Any, Any]]:
    """Run ``blocks`` serially and on ``scheduler``, each on a fresh WorldState, committing
    after each; results and buffered state must be equal. Returns (serial result, stats)."""
    serial_storage, parallel_storage = _storage(kernel, bank), _storage(kernel, bank)
    out = []
    for env, txs in blocks:
        scheduler._hot_streak = 0  # every block speculates (no cool-down after a hot spot)
        executor = TransactionExecutor(kernel, env)
        serial_state, parallel_state = WorldState(serial_storage), WorldState(parallel_storage)
        expected = SerialScheduler().run_block(txs, serial_state, executor)
        got = scheduler.run_block(txs, parallel_state, executor)
        assert got == expected
        assert all(type(r) is TransactionResult for r in got.results)
        assert parallel_state.resolved_changes() == serial_state.resolved_changes()
        serial_state.commit()
        parallel_state.commit()
        out.append((expected, scheduler.last_stats))
    assert dict(parallel_storage.iterate()) == dict(serial_storage.iterate())
    return out


def _workers_ran(stats: Any, workers: int) -> None:
    """Workers executed chunks, and some of their results were kept."""
    assert stats is not None and stats.workers == workers and stats.worker_failures == 0
    assert stats.chunks > 0
    assert stats.transactions - stats.own - stats.fallbacks - stats.reexecutions > 0


def _mixed_block(nonces: Nonces, bank: bytes) -> list[Transaction]:
    """Transfers, contract calls, a create, failures and rejections, interleaved."""
    txs: list[Transaction] = []
    for i in range(48):
        sender = i % 6
        kind = i % 8
        if kind in (0, 1):  # a value transfer to another sender or a fresh account
            to = ADDRESSES[(sender + 3) % 6] if kind == 0 else bytes([0xEE, i]) * 10
            txs.append(_tx(sender, nonces.take(sender), to, value=1_000 + i, gas=21_000))
        elif kind == 2:  # the bank: transfer between its keys (reverts when short)
            data = _bank(0, i % 5, (i + 1) % 5, 40 + i)
            txs.append(_tx(sender, nonces.take(sender), CONTRACT, data=data))
        elif kind == 3:  # the bank: a commutative credit, and a read
            op = 6 if i % 16 == 3 else 2
            txs.append(_tx(sender, nonces.take(sender), CONTRACT, data=_bank(op, i % 5, 0, 9)))
        elif kind == 4:  # failures: out of gas, a trap
            op = 3 if i % 16 == 4 else 4
            gas = 60_000 if op == 3 else 100_000
            data = _bank(op, 0, 0, 0)
            txs.append(_tx(sender, nonces.take(sender), CONTRACT, data=data, gas=gas))
        elif kind == 5:  # rejected: nonce too high, then a wrong chain, then the poor sender
            bad = [
                _tx(sender, nonces.next[sender] + 3, CONTRACT, data=_bank(2, 0, 0, 0)),
                _tx(sender, nonces.next[sender], ADDRESSES[0], chain_id=CHAIN_ID + 1),
                _tx(POOR, nonces.next[POOR], ADDRESSES[0], value=1),
                _tx(sender, nonces.next[sender], ADDRESSES[0], fee_cap=BASE_FEE - 1),
            ]
            txs.append(bad[(i // 8) % len(bad)])
        elif kind == 6:  # a create of the bank (the same code every time: stored once)
            txs.append(_tx(sender, nonces.take(sender), None, data=bank, gas=5_000_000))
        else:  # nonce too low: a replay of the sender's first transaction
            txs.append(txs[sender] if txs[sender].sender == ADDRESSES[sender] else txs[0])
    return txs


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_a_mixed_transaction_block_equals_serial(kernel, bank, scheduler_for, workers) -> None:  # type: ignore[no-untyped-def]
    scheduler = scheduler_for(workers)
    nonces = Nonces()
    txs = _mixed_block(nonces, bank)
    [(expected, stats)] = _compare(kernel, bank, scheduler, [(_env(), txs)])
    _workers_ran(stats, workers)
    results = expected.results
    # The block has every kind of outcome, so the comparison above covered each.
    assert any(r.rejected is not None for r in results)
    assert any(r.rejected is None and r.error is not None for r in results)
    assert any(r.contract_address is not None for r in results)
    assert any(r.rejected is None and r.error is None and r.gas_used > 21_000 for r in results)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_failed_transactions_pay_and_rejected_ones_change_nothing(  # type: ignore[no-untyped-def]
    kernel, bank, scheduler_for, workers
) -> None:
    scheduler = scheduler_for(workers)
    nonces = Nonces()
    txs = []
    for i in range(24):
        sender = i % 8
        if sender == POOR:  # rejected: too little for the gas
            txs.append(_tx(POOR, 0, ADDRESSES[0], value=1))
        elif i % 3 == 0:  # fails: a trap
            txs.append(_tx(sender, nonces.take(sender), CONTRACT, data=_bank(4, 0, 0, 0)))
        else:
            txs.append(_tx(sender, nonces.take(sender), ADDRESSES[8 + sender], value=5))
    storage = _storage(kernel, bank)
    state = WorldState(storage)
    result = scheduler.run_block(txs, state, TransactionExecutor(kernel, _env()))
    _workers_ran(scheduler.last_stats, workers)
    changes = dict(state.resolved_changes())
    for tx, r in zip(txs, result.results, strict=True):
        assert isinstance(r, TransactionResult)
        if tx.sender == ADDRESSES[POOR]:
            assert r.rejected is not None and r.rejected.startswith("insufficient funds")
        elif tx.to == CONTRACT:
            assert r.rejected is None and r.status == 0 and r.error is not None
            assert r.error.kind == ErrorKind.TRAP
    assert nonce_key(ADDRESSES[POOR]) not in changes  # rejected: nothing of its sender changed
    for sender in (1, 2, 3, 4, 5, 6):  # a failed transaction still spent its nonce
        assert state.nonce(ADDRESSES[sender]) == nonces.next[sender]
    # The same, byte for byte, as the serial scheduler.
    _compare(kernel, bank, scheduler, [(_env(), txs)])


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_one_sender_for_the_whole_block(kernel, bank, scheduler_for, workers) -> None:  # type: ignore[no-untyped-def]
    """Consecutive nonces: every transaction depends on the one before, through the nonce."""
    scheduler = scheduler_for(workers)
    txs = [_tx(0, n, ADDRESSES[1 + n % 5], value=n + 1, gas=21_000) for n in range(40)]
    [(expected, stats)] = _compare(kernel, bank, scheduler, [(_env(), txs)])
    assert all(r.rejected is None for r in expected.results)
    assert stats is not None and stats.chunks > 0  # speculated, then found the hot spot


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_every_transaction_on_one_contract_key(kernel, bank, scheduler_for, workers) -> None:  # type: ignore[no-untyped-def]
    """Everyone moves the bank's k[0]: each call reads what the previous one wrote."""
    scheduler = scheduler_for(workers)
    nonces = Nonces()
    txs = [
        _tx(s % 6, nonces.take(s % 6), CONTRACT, data=_bank(0, 0, 1 + s % 4, 3)) for s in range(40)
    ]
    [(expected, stats)] = _compare(kernel, bank, scheduler, [(_env(), txs)])
    assert any(r.error is not None for r in expected.results)  # k[0] ran dry: reverts
    assert stats is not None and stats.chunks > 0


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_fee_credits_to_the_coinbase_do_not_conflict(kernel, bank, scheduler_for, workers) -> None:  # type: ignore[no-untyped-def]
    """Independent senders all pay the coinbase: commutative additions, no re-execution."""
    scheduler = scheduler_for(workers)
    nonces = Nonces()
    txs = [
        _tx(s, nonces.take(s), bytes([0xAB, s]) + bytes(18), value=7, gas=21_000)
        for s in range(len(KEYS))
        if s != POOR
    ]
    [(expected, stats)] = _compare(kernel, bank, scheduler, [(_env(), txs)])
    assert all(r.rejected is None and r.error is None for r in expected.results)
    _workers_ran(stats, workers)
    assert stats.reexecutions == 0 and stats.validation_failures == 0


@pytest.mark.slow
def test_each_block_runs_with_its_own_environment(kernel, bank, scheduler_for) -> None:  # type: ignore[no-untyped-def]
    """Workers rebuild the executor when the block's environment changes (here: the fee
    recipient, which the workers' writes credit without reading)."""
    scheduler = scheduler_for(1)
    nonces = Nonces()
    blocks = []
    for number in (1, 2, 3):
        coinbase = bytes([0xC0, number]) * 10
        txs = [
            _tx(s, nonces.take(s), bytes([0xAD, s]) + bytes(18), value=number, gas=21_000)
            for s in range(17)
            if s != POOR
        ]
        blocks.append((_env(number, coinbase), txs))
    for _expected, stats in _compare(kernel, bank, scheduler, blocks):
        _workers_ran(stats, 1)


@pytest.mark.slow
def test_a_small_block_run_serially_keeps_the_replicas_in_step(kernel, bank, scheduler_for) -> None:  # type: ignore[no-untyped-def]
    """A block too small to share runs serially, and its changes reach the replicas as a
    delta (a chain's storage holds much more than its state: no full copy each time)."""
    scheduler = scheduler_for(1)
    nonces = Nonces()
    senders = [s for s in range(24) if s != POOR]

    def transfers(who: Sequence[int], value: int) -> list[Transaction]:
        return [_tx(s, nonces.take(s), bytes([0xDE, s]) + bytes(18), value=value) for s in who]

    blocks = [
        (_env(1), transfers(senders, 1)),
        (_env(2), transfers(senders[:3], 2)),  # small: serial
        (_env(3), transfers(senders, 3)),  # the replicas must have block 2's nonces
    ]
    serial_storage, parallel_storage = _storage(kernel, bank), _storage(kernel, bank)
    stats = []
    for env, txs in blocks:
        scheduler._hot_streak = 0
        executor = TransactionExecutor(kernel, env)
        serial_state, parallel_state = WorldState(serial_storage), WorldState(parallel_storage)
        expected = SerialScheduler().run_block(txs, serial_state, executor)
        assert scheduler.run_block(txs, parallel_state, executor) == expected
        changes = parallel_state.resolved_changes()
        assert changes == serial_state.resolved_changes()
        serial_state.commit()
        parallel_state.commit()
        stats.append(scheduler.last_stats)
        # Every replica is one block behind, exactly: it is sent a delta, never everything.
        lag = (scheduler._storage_count, scheduler._epoch - 1)
        assert scheduler._pool and all(w.synced == lag for w in scheduler._pool)
        assert scheduler._last_changes is not None
        assert dict(scheduler._last_changes).items() >= dict(changes).items()
    assert stats[1].chunks == 0 and stats[1].fallbacks == len(blocks[1][1])
    _workers_ran(stats[2], 1)
    assert stats[2].reexecutions == 0  # the replica had block 2's nonces


@pytest.mark.slow
def test_the_workers_rebuild_the_executor_from_its_spec(kernel) -> None:  # type: ignore[no-untyped-def]
    executor = TransactionExecutor(kernel, _env(5))
    spec = pickle.loads(pickle.dumps(executor.spec()))
    rebuilt = spec.rebuild(kernel)
    assert type(rebuilt) is TransactionExecutor and rebuilt.env == _env(5)
    assert spec == executor.spec() != TransactionExecutor(kernel, _env(6)).spec()
    calls = kernel.executor()
    assert calls.spec().rebuild(kernel).settings == calls.settings
    # Results cross processes with the subclass's own fields.
    result = TransactionResult(
        gas_used=3, contract_address=CONTRACT, effective_gas_price=9, rejected="no"
    )
    assert pickle.loads(pickle.dumps(result)) == result
    assert executor_key(executor, WorldState(kernel.open_storage("memory")), False) == (
        executor.spec(),
        WorldState,
    )


class _Opaque:
    """An executor of transactions that cannot say how to rebuild it."""

    def __init__(self, inner: TransactionExecutor) -> None:
        self.inner = inner
        self.kernel = inner.kernel
        self.settings = inner.settings

    def __call__(self, tx: Transaction, state: StateOverlay, /) -> TransactionResult:
        return self.inner(tx, state)


def _here_only(kernel: Kernel, env: BlockEnv) -> TransactionExecutor:
    return TransactionExecutor(kernel, env)


# A module that exists in this process only: the spec pickles here, and fails to load there.
_HERE_ONLY = types.ModuleType("supervm_test_only_factories")
_here_only.__module__ = _HERE_ONLY.__name__
_HERE_ONLY._here_only = _here_only  # type: ignore[attr-defined]


class _WithSpec(_Opaque):
    """An executor with a given spec."""

    def __init__(self, inner: TransactionExecutor, factory: Any) -> None:
        super().__init__(inner)
        self.factory = factory

    def spec(self) -> ExecutorSpec:
        return ExecutorSpec(self.factory, (self.inner.env,))


@pytest.mark.slow
def test_executors_that_cannot_be_rebuilt_run_here(kernel, bank, scheduler_for) -> None:  # type: ignore[no-untyped-def]
    scheduler = scheduler_for(1)
    nonces = Nonces()
    txs = [_tx(s % 6, nonces.take(s % 6), ADDRESSES[9], value=1, gas=21_000) for s in range(24)]
    inner = TransactionExecutor(kernel, _env())
    expected = SerialScheduler().run_block(txs, WorldState(_storage(kernel, bank)), inner)

    def serially(executor: Any) -> None:
        assert scheduler.run_block(txs, WorldState(_storage(kernel, bank)), executor) == expected
        stats = scheduler.last_stats
        assert stats is not None and stats.fallbacks == len(txs) and stats.chunks == 0

    serially(_Opaque(inner))  # no spec
    serially(_WithSpec(inner, lambda kernel, env: TransactionExecutor(kernel, env)))  # no pickle
    # A spec the workers fail to load: they report each chunk, which runs here instead.
    sys.modules[_HERE_ONLY.__name__] = _HERE_ONLY
    try:
        state = WorldState(_storage(kernel, bank))
        assert scheduler.run_block(txs, state, _WithSpec(inner, _here_only)) == expected
    finally:
        del sys.modules[_HERE_ONLY.__name__]
    stats = scheduler.last_stats
    assert stats is not None and stats.chunks > 0 and stats.fallbacks > 0
    # And the next block, with a spec they can load, speculates again.
    _compare(kernel, bank, scheduler, [(_env(), txs)])
    _workers_ran(scheduler.last_stats, 1)


@pytest.mark.slow
def test_items_that_do_not_pickle_run_here(kernel, bank, scheduler_for) -> None:  # type: ignore[no-untyped-def]
    scheduler = scheduler_for(1)
    nonces = Nonces()
    txs = [_tx(s, nonces.take(s), ADDRESSES[40], value=1, gas=21_000) for s in range(24)]
    txs[17].__dict__["note"] = lambda: "no pickle"  # its chunk (a worker's) cannot travel
    [(_expected, stats)] = _compare(kernel, bank, scheduler, [(_env(), txs)])
    _workers_ran(stats, 1)
    assert stats.fallbacks >= 4  # the chunk that holds it, run here


def test_items_record_every_key_they_look_at(kernel, bank) -> None:  # type: ignore[no-untyped-def]
    """Each item's read keys include what it read from the chunk's earlier items and what it
    only peeked at (a create checks whether its code is stored already)."""
    executor = TransactionExecutor(kernel, _env())
    storage = _storage(kernel, bank)
    txs = [
        _tx(0, 0, ADDRESSES[1], value=5, gas=21_000),
        _tx(1, 0, ADDRESSES[2], value=5, gas=21_000),  # its balance was credited by tx 0
        _tx(2, 0, None, data=bank, gas=5_000_000),  # bank's code is stored: peeked at only
    ]
    outcome, net = execute_items(executor, WorldState(storage), txs, WorldState)
    _encoded, outside, _ranges, writes, reads = outcome
    assert reads is not None and len(reads) == len(txs) == len(writes)
    assert nonce_key(ADDRESSES[1]) in reads[1]
    assert code_key(keccak256(bank)) in reads[2]
    assert code_key(keccak256(bank)) not in dict(writes[2])  # stored once, not again
    created = pickle.loads(_encoded)[2].contract_address
    assert code_hash_key(created) in dict(writes[2])
    assert code_key(keccak256(bank)) in dict(outside)
    # Items run on the state class they are given; the chunk's net changes are everything.
    assert set(net) == {k for w in writes for k, _ in w}


MARK = b"mark:"


class _Recording:
    """Bumps the sender's nonce key, peeking at it (no recorded read), and reports what it
    saw in a result without a read set. A transaction of value 0 also writes a key named
    after the nonce it saw; one of value 1 reads the key a first sighting would write."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.settings = None

    def __call__(self, tx: Transaction, state: StateOverlay, /) -> ExecutionResult:
        seen = state.peek(nonce_key(tx.sender))
        state.set(nonce_key(tx.sender), (int.from_bytes(seen or b"", "big") + 1).to_bytes(8))
        probe = None
        if tx.value == 0:
            state.set(MARK + (seen or b"-"), b"1")
        elif tx.value == 1:
            probe = state.get(MARK + b"-")
        return ExecutionResult(error=ExecutionError(ErrorKind.REVERT, repr((seen, probe))))


def test_a_stale_item_is_reexecuted_with_everything_after_that_saw_it(kernel, bank) -> None:  # type: ignore[no-untyped-def]
    """Validation of a worker's chunk of items, per item, without worker processes."""
    executor = _Recording(kernel)
    prior = _tx(0, 0, ADDRESSES[1], value=2)  # bumps sender 0's nonce key before the chunk
    chunk = [
        # Peeks sender 0's nonce: stale in the speculation, which wrote MARK + "-" (the true
        # execution writes MARK + its nonce instead).
        _tx(0, 1, ADDRESSES[1], value=0),
        _tx(1, 0, ADDRESSES[1], value=2),  # independent: kept
        _tx(2, 0, ADDRESSES[1], value=1),  # read MARK + "-", which only the speculation wrote
        _tx(3, 0, ADDRESSES[1], value=2),  # independent: kept
        _tx(0, 2, ADDRESSES[1], value=2),  # peeks what the stale item wrote: re-executed
    ]
    storage = _storage(kernel, bank)
    serial = WorldState(storage)
    expected = SerialScheduler().run_block([prior, *chunk], serial, executor)
    outcome, _net = execute_items(executor, WorldState(storage), chunk, WorldState)
    state = WorldState(storage)
    run = _BlockRun(ParallelScheduler(), [prior, *chunk], executor, state, None, False)
    results: list[Any] = run._run_own([prior])
    run._validate(1, chunk, outcome, None, results)  # type: ignore[arg-type]
    assert _decoded(results) == list(expected.results)
    assert run.reexecutions == 3 and run.checked == 5
    assert state.resolved_changes() == serial.resolved_changes()


@pytest.mark.slow
def test_a_chain_importing_blocks_with_the_parallel_scheduler(kernel, bank, scheduler_for) -> None:  # type: ignore[no-untyped-def]
    """Blocks built by a serial chain import on a parallel one: same roots and receipts."""
    genesis = dev_genesis(tuple(ADDRESSES), chain_id=CHAIN_ID)
    raw = json.dumps(genesis).encode()
    serial = Chain.initialise(
        kernel, kernel.open_storage("memory"), parse_genesis(genesis), raw,
        scheduler=SerialScheduler(),
    )  # fmt: skip
    scheduler = scheduler_for(1)
    parallel = Chain.initialise(
        kernel, kernel.open_storage("memory"), parse_genesis(genesis), raw, scheduler=scheduler
    )
    nonces = Nonces()
    fee = 10**10  # above the dev chain's base fee
    deploy = _tx(0, nonces.take(0), None, data=bank, gas=5_000_000, fee_cap=fee)
    built = serial.build_block([deploy], timestamp=1)
    parallel.import_block(built.block)
    bank_address = built.receipts and built.executed.results[0].contract_address
    assert bank_address
    for number in range(2, 4):
        txs = []
        for i in range(30):
            s = i % 6
            if i % 3:
                txs.append(_tx(s, nonces.take(s), ADDRESSES[s + 6], value=i, fee_cap=fee))
            else:
                data = _bank(0, i % 4, (i + 1) % 4, 30)
                txs.append(_tx(s, nonces.take(s), bank_address, data=data, fee_cap=fee))
        built = serial.build_block(txs, timestamp=number, coinbase=ADDRESSES[15])
        receipts = parallel.import_block(built.block)
        assert receipts == built.receipts
        assert parallel.head == serial.head
        stats = scheduler.last_stats
        assert stats is not None and stats.transactions == len(txs) and stats.chunks > 0
        scheduler._hot_streak = 0


# -- random mixes -------------------------------------------------------------------------------

#: What a random transaction does: mostly valid work, some failures and rejections.
KINDS = st.sampled_from(
    ["transfer", "transfer", "transfer", "bank", "bank", "credit", "read", "trap", "oog",
     "create", "gap", "replay", "poor"]
)  # fmt: skip


def _random_block(nonces: Nonces, bank: bytes, senders: int, ops: list[Any]) -> list[Transaction]:
    txs: list[Transaction] = []
    for kind, a, b, amount in ops:
        sender = a % senders
        if sender == POOR:
            sender = 0
        if kind == "transfer":
            to = ADDRESSES[b % len(ADDRESSES)]
            txs.append(_tx(sender, nonces.take(sender), to, value=amount, gas=21_000))
        elif kind in ("bank", "credit", "read", "trap", "oog"):
            op = {"bank": 0, "credit": 6, "read": 2, "trap": 4, "oog": 3}[kind]
            gas = 60_000 if kind == "oog" else 200_000
            data = _bank(op, a % 4, b % 4, amount)
            txs.append(_tx(sender, nonces.take(sender), CONTRACT, data=data, gas=gas))
        elif kind == "create":
            txs.append(_tx(sender, nonces.take(sender), None, data=bank, gas=5_000_000))
        elif kind == "gap":  # rejected: a nonce ahead of the sender's
            txs.append(_tx(sender, nonces.next[sender] + 1, ADDRESSES[0], value=1))
        elif kind == "replay" and txs:  # rejected: a nonce already used
            txs.append(txs[b % len(txs)])
        else:
            txs.append(_tx(POOR, 0, ADDRESSES[0], value=amount))
    return txs


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    senders=st.sampled_from([1, 3, 8]),
    blocks=st.lists(
        st.lists(
            st.tuples(KINDS, st.integers(0, 255), st.integers(0, 255), st.integers(0, 150)),
            min_size=8,
            max_size=40,
        ),
        min_size=1,
        max_size=2,
    ),
)
def test_random_transaction_blocks_equal_serial(  # type: ignore[no-untyped-def]
    kernel, bank, scheduler_for, workers, senders, blocks
) -> None:
    scheduler = scheduler_for(workers)
    nonces = Nonces()
    made = []
    for number, ops in enumerate(blocks, start=1):
        made.append((_env(number), _random_block(nonces, bank, senders, ops)))
    for _expected, stats in _compare(kernel, bank, scheduler, made):
        assert stats is not None


def test_call_blocks_keep_their_executor_key(kernel) -> None:  # type: ignore[no-untyped-def]
    """Calls need no spec: a call executor without one is rebuilt as the kernel's."""
    executor = kernel.executor()
    key = executor_key(executor, StateOverlay(kernel.open_storage("memory")), True)
    assert key == (executor.spec(), StateOverlay)

    @attrs.frozen
    class Plain:
        kernel: Kernel
        settings: None = None

        def __call__(self, call: Any, state: StateOverlay, /) -> ExecutionResult:
            raise NotImplementedError

    assert executor_key(Plain(kernel), StateOverlay(kernel.open_storage("memory")), True) == key
    assert executor_key(Plain(kernel), StateOverlay(kernel.open_storage("memory")), False) is None
