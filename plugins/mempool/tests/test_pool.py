"""The transaction pool: geth's rejections, replacement, nonce gaps, limits and block order."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from supervm import Kernel, Rejection, hookimpl
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.transactions import (
    Transaction,
    UnsignedTransaction,
    effective_tip,
    sign_transaction,
)
from supervm.services.admission import AdmissionContext
from supervm.state.world import WorldState
from supervm_mempool import PoolError, TransactionPool
from supervm_storage_memory import MemoryStorage

CHAIN_ID = 1
BASE_FEE = 10
RECIPIENT = b"\x42" * 20
RICH = 10**30
ACCOUNTS = dev_accounts(4)
KEYS = [account.private_key for account in ACCOUNTS]
ADDRESSES = [account.address for account in ACCOUNTS]


@functools.cache
def tx(
    who: int = 0,
    nonce: int = 0,
    tip: int = 1,
    cap: int | None = None,
    *,
    legacy: bool = False,
    gas: int = 21_000,
    value: int = 0,
    data: bytes = b"",
    chain_id: int | None = CHAIN_ID,
) -> Transaction:
    """A signed transfer; ``tip`` is the gas price for a legacy one. Cached: signing is slow
    next to the pool and hypothesis asks for the same transactions again and again."""
    if legacy:
        unsigned = UnsignedTransaction(
            type=0, chain_id=chain_id, nonce=nonce, gas_price=tip, gas=gas, to=RECIPIENT,
            value=value, data=data,
        )  # fmt: skip
    else:
        unsigned = UnsignedTransaction(
            type=2, chain_id=chain_id, nonce=nonce, max_priority_fee_per_gas=tip,
            max_fee_per_gas=BASE_FEE + tip if cap is None else cap, gas=gas, to=RECIPIENT,
            value=value, data=data,
        )  # fmt: skip
    return sign_transaction(unsigned, KEYS[who])


def world(balance: int = RICH, nonces: dict[int, int] | None = None) -> WorldState:
    state = WorldState(MemoryStorage())
    for address in ADDRESSES:
        state.set_balance(address, balance)
    for who, nonce in (nonces or {}).items():
        state.set_nonce(ADDRESSES[who], nonce)
    return state


def add(pool: TransactionPool, state: WorldState, *txs: Transaction) -> None:
    for one in txs:
        pool.add(one, state, base_fee=BASE_FEE, chain_id=CHAIN_ID)


def refused(pool: TransactionPool, state: WorldState, one: Transaction) -> str:
    with pytest.raises(PoolError) as info:
        pool.add(one, state, base_fee=BASE_FEE, chain_id=CHAIN_ID)
    assert str(info.value).startswith(info.value.reason)
    return info.value.reason


# -- rejections --------------------------------------------------------------------------------


def test_nonce_too_low() -> None:
    state = world(nonces={0: 3})
    assert refused(TransactionPool(), state, tx(nonce=2)) == "nonce too low"


def test_sender_not_an_eoa() -> None:
    state = world()
    state.set_code(ADDRESSES[0], b"\x00")
    assert refused(TransactionPool(), state, tx()) == "sender not an eoa"


def test_insufficient_funds() -> None:
    one = tx(tip=1, value=5)
    state = world(balance=21_000 * (BASE_FEE + 1) + 4)
    assert refused(TransactionPool(), state, one) == "insufficient funds for gas * price + value"
    state.set_balance(ADDRESSES[0], 21_000 * (BASE_FEE + 1) + 5)
    add(TransactionPool(), state, one)  # exactly enough


def test_intrinsic_gas_too_low() -> None:
    assert refused(TransactionPool(), world(), tx(gas=20_999)) == "intrinsic gas too low"
    assert refused(TransactionPool(), world(), tx(data=b"\x01", gas=21_000)) == (
        "intrinsic gas too low"
    )


def test_invalid_chain_id_but_unprotected_legacy_is_valid_everywhere() -> None:
    assert refused(TransactionPool(), world(), tx(chain_id=5)) == "invalid chain id"
    add(TransactionPool(), world(), tx(legacy=True, tip=20, chain_id=None))


def test_transaction_type_not_supported() -> None:
    pool = TransactionPool(accepted_types={0})
    assert refused(pool, world(), tx()) == "transaction type not supported"
    add(pool, world(), tx(legacy=True, tip=20))


def test_oversized_data() -> None:
    # Calldata costs 4 gas a zero byte; 128 KiB of zeros fits the gas limit easily.
    big = tx(data=bytes(128 * 1024), gas=21_000 + 4 * 128 * 1024)
    assert refused(TransactionPool(), world(), big) == "oversized data"
    fits = tx(data=bytes(128 * 1024 - 200), gas=21_000 + 4 * 128 * 1024)
    add(TransactionPool(), world(), fits)


def test_already_known() -> None:
    pool, state = TransactionPool(), world()
    add(pool, state, tx())
    assert refused(pool, state, tx()) == "already known"


def test_exceeds_block_gas_limit() -> None:
    pool = TransactionPool(block_gas_limit=100_000)
    assert refused(pool, world(), tx(gas=100_001)) == "exceeds block gas limit"
    add(pool, world(), tx(gas=100_000))


def test_tip_above_fee_cap() -> None:
    reason = refused(TransactionPool(), world(), tx(tip=5, cap=4))
    assert reason == "max priority fee per gas higher than max fee per gas"


def test_fee_cap_below_base_fee_waits_instead_of_being_refused() -> None:
    pool, state = TransactionPool(), world()
    cheap = tx(tip=1, cap=BASE_FEE - 1)
    result = pool.add(cheap, state, base_fee=BASE_FEE, chain_id=CHAIN_ID)
    assert result.pending and pool.stats() == (1, 0)
    assert pool.pending(BASE_FEE) == []
    assert pool.pending(BASE_FEE - 1) == [cheap]


def test_txpool_is_full_and_account_limit() -> None:
    pool, state = TransactionPool(max_size=1), world()
    add(pool, state, tx(0, tip=5))
    assert refused(pool, state, tx(1, tip=5)) == "txpool is full"  # not cheaper, not dearer
    pool = TransactionPool(max_per_sender=2)
    add(pool, state, tx(nonce=0), tx(nonce=1))
    assert refused(pool, state, tx(nonce=2)) == "account limit exceeded"
    add(pool, state, tx(nonce=1, tip=2))  # a replacement takes no new slot


class _Deny:
    @hookimpl
    def supervm_admit_transaction(
        self, transaction: Transaction, context: AdmissionContext
    ) -> Rejection | None:
        assert context.env.chain_id == CHAIN_ID and context.env.base_fee == BASE_FEE
        return Rejection("sender not allowed") if transaction.sender == ADDRESSES[1] else None


def test_admission_plugins_refuse_with_their_reason() -> None:
    kernel = Kernel.from_plugins(discover=False, env={}, extra=[("deny", _Deny())])
    pool, state = TransactionPool(kernel), world()
    add(pool, state, tx(0))
    assert refused(pool, state, tx(1)) == "sender not allowed"
    assert len(pool) == 1


# -- replacement ------------------------------------------------------------------------------


def test_replacement_needs_ten_percent_more_fee_cap_and_tip() -> None:
    pool, state = TransactionPool(), world()
    add(pool, state, tx(tip=100, cap=1_000))
    assert refused(pool, state, tx(tip=109, cap=1_100)) == "replacement transaction underpriced"
    assert refused(pool, state, tx(tip=110, cap=1_099)) == "replacement transaction underpriced"
    assert refused(pool, state, tx(tip=100, cap=5_000)) == "replacement transaction underpriced"
    result = pool.add(tx(tip=110, cap=1_100), state, base_fee=BASE_FEE, chain_id=CHAIN_ID)
    assert result.replaced == tx(tip=100, cap=1_000)
    assert tx(tip=100, cap=1_000) not in pool and len(pool) == 1


def test_replacement_of_legacy_transactions_by_gas_price() -> None:
    pool, state = TransactionPool(), world()
    add(pool, state, tx(legacy=True, tip=50))
    assert refused(pool, state, tx(legacy=True, tip=54)) == "replacement transaction underpriced"
    add(pool, state, tx(legacy=True, tip=55))
    assert pool.pending(BASE_FEE) == [tx(legacy=True, tip=55)]


# -- nonce gaps -------------------------------------------------------------------------------


def test_gap_queues_and_a_block_promotes() -> None:
    pool, state = TransactionPool(), world()
    first = pool.add(tx(nonce=0), state, base_fee=BASE_FEE, chain_id=CHAIN_ID)
    late = pool.add(tx(nonce=2), state, base_fee=BASE_FEE, chain_id=CHAIN_ID)
    assert first.pending and not late.pending
    assert pool.stats() == (1, 1)
    assert pool.pending(BASE_FEE) == [tx(nonce=0)]
    # A block includes nonce 0 and a nonce 1 this pool never saw.
    state.set_nonce(ADDRESSES[0], 2)
    pool.remove_included([tx(nonce=0)], state)
    assert pool.stats() == (1, 0)
    assert pool.pending(BASE_FEE) == [tx(nonce=2)]


def test_filling_the_gap_promotes() -> None:
    pool, state = TransactionPool(), world()
    add(pool, state, tx(nonce=0), tx(nonce=2), tx(nonce=3))
    assert pool.stats() == (1, 2)
    assert pool.add(tx(nonce=1), state, base_fee=BASE_FEE, chain_id=CHAIN_ID).pending
    assert pool.stats() == (4, 0)


def test_stale_transactions_go_after_a_block() -> None:
    pool, state = TransactionPool(), world()
    add(pool, state, tx(nonce=0), tx(nonce=1), tx(1, nonce=0))
    state.set_nonce(ADDRESSES[0], 2)
    pool.remove_included([], state)
    assert len(pool) == 1 and tx(1, nonce=0) in pool and pool.get(tx(nonce=1).hash) is None


# -- eviction ---------------------------------------------------------------------------------


def test_a_full_pool_evicts_the_cheapest_for_a_dearer_one() -> None:
    pool, state = TransactionPool(max_size=3), world()
    add(pool, state, tx(0, tip=5), tx(1, tip=2), tx(2, tip=7))
    assert refused(pool, state, tx(3, tip=2)) == "txpool is full"
    result = pool.add(tx(3, tip=3), state, base_fee=BASE_FEE, chain_id=CHAIN_ID)
    assert result.evicted == (tx(1, tip=2),)
    assert len(pool) == 3 and tx(1, tip=2) not in pool and tx(3, tip=3) in pool


def test_eviction_ranks_at_the_current_base_fee() -> None:
    pool, state = TransactionPool(max_size=2), world()
    # At base fee 10: a tips 5 (cap 15), b tips min(9, 20 - 10) = 9. At 18: a -3, b 2.
    a, b = tx(0, tip=5, cap=15), tx(1, tip=9, cap=20)
    add(pool, state, a, b)
    result = pool.add(tx(2, tip=3, cap=30), state, base_fee=18, chain_id=CHAIN_ID)
    assert result.evicted == (a,)


# -- block order ------------------------------------------------------------------------------


def test_pending_orders_by_tip_across_senders_and_by_nonce_within() -> None:
    pool, state = TransactionPool(), world()
    add(pool, state, tx(0, 0, tip=1), tx(0, 1, tip=9), tx(1, 0, tip=5), tx(2, 0, tip=3))
    # Sender 0's tip-9 transaction waits for its tip-1 one, which is the cheapest head.
    assert pool.pending(BASE_FEE) == [tx(1, 0, tip=5), tx(2, 0, tip=3), tx(0, 0, 1), tx(0, 1, 9)]


_pool_specs = st.lists(
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 30)), max_size=5),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(specs=_pool_specs, base_fee=st.integers(0, 25))
def test_pending_is_a_greedy_order_that_keeps_nonces(
    specs: list[list[tuple[int, int]]], base_fee: int
) -> None:
    pool, state = TransactionPool(), world()
    for who, spec in enumerate(specs):
        add(
            pool,
            state,
            *(tx(who, n, tip=tip, cap=tip + extra) for n, (tip, extra) in enumerate(spec)),
        )
    ordered = pool.pending(base_fee)
    # Exactly each sender's longest run of nonces from 0 that a block at base_fee can pay for.
    expected: dict[int, list[Transaction]] = {}
    for who, spec in enumerate(specs):
        for n, (tip, extra) in enumerate(spec):
            if tip + extra < base_fee:
                break
            expected.setdefault(who, []).append(tx(who, n, tip=tip, cap=tip + extra))
    assert sorted(t.hash for t in ordered) == sorted(t.hash for ts in expected.values() for t in ts)
    # Greedy: each pick pays at least every other sender's next transaction.
    position = dict.fromkeys(expected, 0)
    for picked in ordered:
        who = ADDRESSES.index(picked.sender)
        assert expected[who][position[who]] == picked  # nonce order
        heads = [ts[position[w]] for w, ts in expected.items() if position[w] < len(ts)]
        assert effective_tip(picked, base_fee) >= max(effective_tip(h, base_fee) for h in heads)
        position[who] += 1


# -- against a reference model ----------------------------------------------------------------

_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"), st.integers(0, 2), st.integers(0, 4), st.integers(1, 40), st.booleans()
        ),
        st.tuples(
            st.just("mine"), st.integers(0, 2), st.integers(0, 3), st.just(0), st.just(False)
        ),
    ),
    max_size=30,
)


def _model_replaces(new: tuple[int, int], old: tuple[int, int]) -> bool:
    (new_cap, new_tip), (old_cap, old_tip) = new, old
    return (
        new_cap > old_cap
        and new_tip > old_tip
        and new_cap * 100 >= old_cap * 110 - (old_cap * 110) % 100
        and new_tip * 100 >= old_tip * 110 - (old_tip * 110) % 100
    )


@settings(max_examples=80, deadline=None)
@given(ops=_ops)
def test_pending_set_matches_a_reference_model(ops: list[tuple[str, int, int, int, bool]]) -> None:
    pool, state = TransactionPool(), world()
    nonces = [0, 0, 0]
    held: list[dict[int, Transaction]] = [{}, {}, {}]  # the model: sender -> nonce -> tx
    for op, who, n, fee, legacy in ops:
        if op == "add":
            # n = 0 makes a nonce below the state's once the sender has sent one.
            one = tx(who, max(0, nonces[who] + n - 1), tip=fee, legacy=legacy)
            old = held[who].get(one.nonce)
            ok = one.nonce >= nonces[who] and (
                old is None or (old != one and _model_replaces(_fees(one), _fees(old)))
            )
            try:
                pool.add(one, state, base_fee=BASE_FEE, chain_id=CHAIN_ID)
            except PoolError:
                assert not ok
            else:
                assert ok
                held[who][one.nonce] = one
        else:  # a block moves the sender's nonce by n, including what the pool had there
            included = [
                held[who].pop(k) for k in range(nonces[who], nonces[who] + n) if k in held[who]
            ]
            nonces[who] += n
            for stale in [k for k in held[who] if k < nonces[who]]:
                del held[who][stale]
            state.set_nonce(ADDRESSES[who], nonces[who])
            pool.remove_included(included, state)
        model_pending = set()
        for w in range(3):
            k = nonces[w]
            while k in held[w]:
                model_pending.add(held[w][k].hash)
                k += 1
        assert {t.hash for ts in pool.pending_by_sender().values() for t in ts} == model_pending
        assert pool.stats() == (len(model_pending), sum(map(len, held)) - len(model_pending))


def _fees(one: Transaction) -> tuple[int, int]:
    if one.type == 0:
        assert one.gas_price is not None
        return one.gas_price, one.gas_price
    assert one.max_fee_per_gas is not None and one.max_priority_fee_per_gas is not None
    return one.max_fee_per_gas, one.max_priority_fee_per_gas


@settings(max_examples=60, deadline=None)
@given(cap=st.integers(1, 10**6), tip=st.integers(1, 10**6))
def test_replacement_at_exactly_the_bump_replaces_and_one_below_does_not(
    cap: int, tip: int
) -> None:
    cap = max(cap, tip)
    pool, state = TransactionPool(), world()
    add(pool, state, tx(tip=tip, cap=cap))
    # geth's threshold, rounded down; and strictly higher, which matters below 10 wei.
    new_cap, new_tip = max(cap * 110 // 100, cap + 1), max(tip * 110 // 100, tip + 1)
    assert refused(pool, state, tx(tip=new_tip - 1, cap=new_cap)) == (
        "replacement transaction underpriced"
    )
    if new_cap - 1 >= new_tip:
        assert refused(pool, state, tx(tip=new_tip, cap=new_cap - 1)) == (
            "replacement transaction underpriced"
        )
    add(pool, state, tx(tip=new_tip, cap=new_cap))
    assert len(pool) == 1


@settings(max_examples=60, deadline=None)
@given(tips=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20)), max_size=20))
def test_a_full_pool_only_ever_trades_up(tips: list[tuple[int, int]]) -> None:
    pool, state = TransactionPool(max_size=3), world()
    next_nonce = [0, 0, 0, 0]
    for who, tip in tips:
        one = tx(who, next_nonce[who], tip=tip)
        try:
            result = pool.add(one, state, base_fee=BASE_FEE, chain_id=CHAIN_ID)
        except PoolError as exc:
            assert exc.reason == "txpool is full"
            assert len(pool) == 3
            continue
        next_nonce[who] += 1
        assert len(pool) <= 3
        assert all(effective_tip(gone, BASE_FEE) < tip for gone in result.evicted)


def test_the_plugin_is_an_entry_point() -> None:
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group="supervm.plugins")}
    assert found["mempool"] == "supervm_mempool"
    Kernel.from_plugins(env={})  # discovery loads it alongside the others
