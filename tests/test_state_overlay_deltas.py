"""Commutative additions (``StateOverlay.add_u256``) behave as eager read-modify-writes,
without recording a read, through snapshots, commits, iteration and merges."""

from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st
from supervm import StateOverlay
from supervm.state.overlay import AddU256
from supervm_storage_memory import MemoryStorage

KEYS = st.sampled_from([b"a", b"b", b"c"])
U256 = 2**256


def _num(value: bytes | None) -> int:
    return int.from_bytes(value, "little") if value else 0


OPS = st.one_of(
    st.tuples(st.just("set"), KEYS, st.integers(0, 2**64 - 1)),
    st.tuples(st.just("delete"), KEYS, st.just(0)),
    st.tuples(st.just("add"), KEYS, st.integers(0, U256 - 1)),
    st.tuples(st.just("snapshot"), st.just(b""), st.just(0)),
    st.tuples(st.just("commit_snapshot"), st.just(b""), st.just(0)),
    st.tuples(st.just("rollback"), st.just(b""), st.just(0)),
    st.tuples(st.just("commit"), st.just(b""), st.just(0)),
)


@given(
    base=st.dictionaries(KEYS, st.integers(0, 2**64 - 1), max_size=3),
    ops=st.lists(OPS, max_size=40),
)
def test_additions_match_an_eager_model(
    base: dict[bytes, int], ops: list[tuple[str, bytes, int]]
) -> None:
    storage = MemoryStorage()
    storage.write_batch([(k, v.to_bytes(8, "little")) for k, v in base.items()])
    state = StateOverlay(storage)
    committed = {k: v.to_bytes(8, "little") for k, v in base.items()}
    layers: list[dict[bytes, bytes | None]] = [{}]

    def model_get(key: bytes) -> bytes | None:
        for layer in reversed(layers):
            if key in layer:
                return layer[key]
        return committed.get(key)

    for op, key, n in ops:
        if op == "set":
            state.set(key, n.to_bytes(8, "little"))
            layers[-1][key] = n.to_bytes(8, "little")
        elif op == "delete":
            state.delete(key)
            layers[-1][key] = None
        elif op == "add":
            reads_before = set(state.reads)
            state.add_u256(key, n)
            assert state.reads == reads_before  # adding reads nothing
            layers[-1][key] = ((_num(model_get(key)) + n) % U256).to_bytes(32, "little")
        elif op == "snapshot":
            state.snapshot()
            layers.append({})
        elif op == "commit_snapshot" and len(layers) > 1:
            state.commit_snapshot()
            top = layers.pop()
            layers[-1].update(top)
        elif op == "rollback" and len(layers) > 1:
            state.rollback_snapshot()
            layers.pop()
        elif op == "commit":
            state.commit()
            for layer in layers:
                for k, v in layer.items():
                    if v is None:
                        committed.pop(k, None)
                    else:
                        committed[k] = v
            layers = [{}]
        for k in (b"a", b"b", b"c"):
            assert state.peek(k) == model_get(k), (op, k)
    expected = {k: model_get(k) for k in (b"a", b"b", b"c")}
    assert dict(state.iterate()) == {k: v for k, v in expected.items() if v is not None}
    state.commit()
    assert dict(storage.iterate()) == {k: v for k, v in expected.items() if v is not None}


def test_additions_stay_deltas_until_read_and_pickle() -> None:
    storage = MemoryStorage()
    storage.set(b"k", (5).to_bytes(32, "little"))
    state = StateOverlay(storage)
    state.add_u256(b"k", 3)
    state.snapshot()
    state.add_u256(b"k", 4)
    state.commit_snapshot()
    assert state.changes() == {b"k": AddU256(7)}
    assert pickle.loads(pickle.dumps(AddU256(7))) == AddU256(7)
    assert state.resolved_changes() == [(b"k", (12).to_bytes(32, "little"))]
    assert state.get(b"k") == (12).to_bytes(32, "little")
    assert state.reads == {b"k"} and state.writes == {b"k"}
    other = StateOverlay(storage)
    other.apply(state.changes().items())
    assert other.peek(b"k") == (12).to_bytes(32, "little")
