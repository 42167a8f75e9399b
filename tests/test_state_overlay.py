"""The state overlay executions run on, over the memory backend.

The overlay decides what a call sees and what a block commits, so besides examples of each
feature there is a stateful hypothesis test that drives random sets, deletes, nested snapshots,
commits and range scans against a plain-dict model.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from supervm import (
    ErrorKind,
    ExecutionError,
    ExecutionResult,
    StateOverlay,
    StorageFullError,
    execute_with_snapshot,
)
from supervm.state.overlay import AddU256
from supervm.state.storage import Change, prefix_end
from supervm_storage_memory import MemoryStorage


class SpyStorage(MemoryStorage):
    """A memory store that records every batch, and can be told to fail the next one."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Change]] = []
        self.fail_next = False

    def write_batch(self, changes: Iterable[Change]) -> None:
        changes = list(changes)
        self.batches.append(changes)
        if self.fail_next:
            self.fail_next = False
            raise StorageFullError("full (test)")
        super().write_batch(changes)


def make_overlay(**base: bytes) -> tuple[StateOverlay, SpyStorage]:
    store = SpyStorage()
    store.write_batch([(k.encode(), v) for k, v in base.items()])
    store.batches.clear()
    return StateOverlay(store), store


def items(
    overlay: StateOverlay, *args: bytes | None, reverse: bool = False
) -> list[tuple[bytes, bytes]]:
    start = args[0] if args else b""
    assert start is not None
    end = args[1] if len(args) > 1 else None
    return list(overlay.iterate(start, end, reverse=reverse))


# -- reads and writes --------------------------------------------------------------------------


def test_reads_fall_through_and_writes_are_buffered() -> None:
    overlay, store = make_overlay(a=b"1", b=b"2")
    assert overlay.base is store
    assert overlay.get(b"a") == b"1"
    assert overlay.get(b"zz") is None
    overlay.set(b"a", b"one")
    overlay.set(b"c", b"3")
    overlay.delete(b"b")
    assert overlay.get(b"a") == b"one"
    assert overlay.get(b"c") == b"3"
    assert overlay.get(b"b") is None
    assert not overlay.has(b"b")
    assert overlay.has(b"c")
    # Nothing reached the backend.
    assert store.batches == []
    assert list(store.iterate()) == [(b"a", b"1"), (b"b", b"2")]
    assert overlay.changes() == {b"a": b"one", b"c": b"3", b"b": None}


def test_empty_value_is_not_a_deletion() -> None:
    overlay, _ = make_overlay(a=b"1")
    overlay.set(b"a", b"")
    assert overlay.get(b"a") == b""
    assert overlay.has(b"a")
    assert items(overlay) == [(b"a", b"")]


# -- snapshots ---------------------------------------------------------------------------------


def test_nested_snapshots_commit_and_rollback() -> None:
    overlay, _ = make_overlay(a=b"base")
    assert overlay.depth == 0
    overlay.set(b"a", b"root")
    overlay.snapshot()
    overlay.set(b"a", b"outer")
    overlay.set(b"b", b"outer")
    overlay.snapshot()
    assert overlay.depth == 2
    overlay.set(b"a", b"inner")
    overlay.delete(b"b")
    overlay.set(b"c", b"inner")
    assert (overlay.get(b"a"), overlay.get(b"b"), overlay.get(b"c")) == (b"inner", None, b"inner")

    overlay.rollback_snapshot()
    assert overlay.depth == 1
    assert (overlay.get(b"a"), overlay.get(b"b"), overlay.get(b"c")) == (b"outer", b"outer", None)

    overlay.snapshot()
    overlay.delete(b"a")
    overlay.set(b"d", b"inner2")
    overlay.commit_snapshot()
    assert overlay.depth == 1
    assert overlay.get(b"a") is None
    assert overlay.get(b"d") == b"inner2"

    overlay.rollback_snapshot()
    assert overlay.depth == 0
    assert overlay.get(b"a") == b"root"
    assert overlay.get(b"d") is None
    assert overlay.changes() == {b"a": b"root"}


def test_commit_snapshot_returns_what_the_snapshot_changed() -> None:
    overlay, _ = make_overlay()
    overlay.set(b"a", b"outer")
    overlay.add_u256(b"n", 5)
    overlay.snapshot()
    overlay.delete(b"a")
    overlay.set(b"b", b"new")
    overlay.add_u256(b"n", 2)
    changed = overlay.commit_snapshot()
    # Relative to the state the snapshot was opened on: a delta stays a delta.
    assert dict(changed) == {b"a": None, b"b": b"new", b"n": AddU256(2)}
    assert overlay.get(b"n") == (7).to_bytes(32, "little")
    overlay.snapshot()
    assert dict(overlay.commit_snapshot()) == {}


def test_unbalanced_snapshot_calls_raise() -> None:
    overlay, _ = make_overlay()
    with pytest.raises(RuntimeError, match="no open snapshot"):
        overlay.commit_snapshot()
    with pytest.raises(RuntimeError, match="no open snapshot"):
        overlay.rollback_snapshot()
    overlay.set(b"k", b"v")
    assert overlay.get(b"k") == b"v"  # the root layer survived


def test_snapshotted_commits_on_normal_exit() -> None:
    overlay, _ = make_overlay(a=b"1")
    with overlay.snapshotted() as state:
        assert state is overlay
        assert overlay.depth == 1
        overlay.set(b"a", b"2")
        with overlay.snapshotted():
            overlay.set(b"b", b"3")
    assert overlay.depth == 0
    assert overlay.changes() == {b"a": b"2", b"b": b"3"}


def test_snapshotted_rolls_back_on_exception() -> None:
    overlay, _ = make_overlay(a=b"1")
    with overlay.snapshotted():
        overlay.set(b"a", b"2")
        with pytest.raises(KeyError), overlay.snapshotted():
            overlay.set(b"a", b"3")
            overlay.delete(b"b")
            raise KeyError("boom")
        assert overlay.depth == 1
        assert overlay.get(b"a") == b"2"
    with pytest.raises(KeyboardInterrupt), overlay.snapshotted():
        overlay.set(b"a", b"4")
        raise KeyboardInterrupt
    assert overlay.depth == 0
    assert overlay.changes() == {b"a": b"2"}


# -- iteration ---------------------------------------------------------------------------------


def test_merged_iteration() -> None:
    overlay, _ = make_overlay(a=b"1", b=b"2", c=b"3", e=b"5")
    overlay.set(b"b", b"two")  # shadows the base
    overlay.delete(b"c")  # hides a base key
    overlay.set(b"d", b"4")  # only buffered
    overlay.delete(b"x")  # deleting a missing key shows nothing
    overlay.snapshot()
    overlay.set(b"c", b"back")  # re-set above the deletion
    overlay.delete(b"e")  # deletion above the base
    overlay.set(b"aa", b"new")
    expected = [(b"a", b"1"), (b"aa", b"new"), (b"b", b"two"), (b"c", b"back"), (b"d", b"4")]
    assert items(overlay) == expected
    assert items(overlay, reverse=True) == expected[::-1]
    assert items(overlay, b"aa", b"d") == expected[1:4]
    assert items(overlay, b"aa", b"d", reverse=True) == expected[1:4][::-1]
    assert list(overlay.iterate_prefix(b"a")) == expected[:2]
    assert list(overlay.iterate_prefix(b"a", reverse=True)) == expected[:2][::-1]
    overlay.rollback_snapshot()
    assert items(overlay) == [(b"a", b"1"), (b"b", b"two"), (b"d", b"4"), (b"e", b"5")]


def test_iteration_with_ff_prefixes() -> None:
    overlay, _ = make_overlay()
    overlay.base.write_batch([(b"\xff", b"1"), (b"\xff\xff", b"2"), (b"\xfe\xff", b"3")])
    overlay.set(b"\xff\x00", b"4")
    overlay.delete(b"\xff\xff")
    overlay.set(b"\xff\xff\xff", b"5")
    assert list(overlay.iterate_prefix(b"\xff")) == [
        (b"\xff", b"1"),
        (b"\xff\x00", b"4"),
        (b"\xff\xff\xff", b"5"),
    ]
    assert [k for k, _ in overlay.iterate_prefix(b"\xfe", reverse=True)] == [b"\xfe\xff"]


# -- commit ------------------------------------------------------------------------------------


def test_commit_writes_one_sorted_batch() -> None:
    overlay, store = make_overlay(a=b"1", b=b"2")
    overlay.set(b"c", b"3")
    overlay.delete(b"a")
    overlay.snapshot()
    overlay.set(b"b", b"two")
    overlay.snapshot()
    overlay.set(b"c", b"three")
    written = overlay.commit()
    assert store.batches == [[(b"a", None), (b"b", b"two"), (b"c", b"three")]]
    assert written == store.batches[0]  # what was written, for a scheduler's replicas
    assert list(store.iterate()) == [(b"b", b"two"), (b"c", b"three")]
    assert overlay.depth == 0  # open snapshots were committed too
    assert overlay.changes() == {}
    assert overlay.get(b"c") == b"three"  # now read from the backend


def test_commit_of_nothing_writes_nothing() -> None:
    overlay, store = make_overlay(a=b"1")
    overlay.get(b"a")
    assert len(overlay.commit()) == 0
    assert store.batches == []


def test_failed_commit_keeps_the_buffer() -> None:
    overlay, store = make_overlay(a=b"1")
    overlay.set(b"a", b"2")
    overlay.set(b"b", b"3")
    store.fail_next = True
    with pytest.raises(StorageFullError):
        overlay.commit()
    assert list(store.iterate()) == [(b"a", b"1")]
    assert overlay.changes() == {b"a": b"2", b"b": b"3"}
    assert len(overlay.commit()) == 2  # retry succeeds
    assert list(store.iterate()) == [(b"a", b"2"), (b"b", b"3")]


def test_discard() -> None:
    overlay, store = make_overlay(a=b"1")
    overlay.set(b"a", b"2")
    overlay.snapshot()
    overlay.delete(b"a")
    overlay.discard()
    assert overlay.depth == 0
    assert overlay.get(b"a") == b"1"
    assert len(overlay.commit()) == 0
    assert store.batches == []


# -- access tracking ---------------------------------------------------------------------------


def test_read_and_write_sets() -> None:
    overlay, _ = make_overlay(a=b"1", b=b"2", c=b"3")
    overlay.get(b"a")
    overlay.has(b"missing")
    overlay.set(b"w", b"1")
    overlay.delete(b"b")
    assert overlay.reads == {b"a", b"missing"}
    assert overlay.writes == {b"w", b"b"}

    # Writes that were rolled back still count: the call touched them.
    overlay.snapshot()
    overlay.set(b"rolled", b"back")
    overlay.rollback_snapshot()
    assert b"rolled" in overlay.writes

    overlay.reset_tracking()
    assert overlay.reads == set() and overlay.writes == set()
    assert overlay.get(b"w") == b"1"  # buffered changes survive the reset

    overlay.reset_tracking()
    iterator = overlay.iterate(b"a", b"c")
    assert overlay.reads == set()  # lazily: a key is read when the scan reaches it
    assert next(iterator) == (b"a", b"1")
    assert overlay.reads == {b"a"}
    assert list(iterator) == []
    assert b"a" in overlay.reads
    assert b"c" not in overlay.reads


# -- execute_with_snapshot ---------------------------------------------------------------------


def test_execute_with_snapshot_commits_a_successful_call() -> None:
    overlay, store = make_overlay(a=b"1")
    overlay.snapshot()

    def run(state: StateOverlay) -> ExecutionResult:
        assert state.depth == 2
        state.set(b"a", b"2")
        return ExecutionResult(value=7)

    result = execute_with_snapshot(overlay, run)
    assert result.ok and result.value == 7
    assert overlay.depth == 1
    assert overlay.get(b"a") == b"2"
    assert store.batches == []  # kept in the overlay for the caller to commit


@pytest.mark.parametrize("kind", [ErrorKind.REVERT, ErrorKind.TRAP, ErrorKind.OUT_OF_GAS])
def test_execute_with_snapshot_rolls_back_a_failed_call(kind: ErrorKind) -> None:
    overlay, _ = make_overlay(a=b"1")
    overlay.set(b"before", b"kept")

    def run(state: StateOverlay) -> ExecutionResult:
        state.set(b"a", b"2")
        state.delete(b"before")
        return ExecutionResult(error=ExecutionError(kind, "failed"))

    result = execute_with_snapshot(overlay, run)
    assert not result.ok
    assert overlay.depth == 0
    assert overlay.changes() == {b"before": b"kept"}
    assert overlay.get(b"a") == b"1"


def test_execute_with_snapshot_rolls_back_on_exception() -> None:
    overlay, _ = make_overlay(a=b"1")

    def run(state: StateOverlay) -> ExecutionResult:
        state.set(b"a", b"2")
        raise ValueError("host bug")

    with pytest.raises(ValueError, match="host bug"):
        execute_with_snapshot(overlay, run)
    assert overlay.depth == 0
    assert overlay.changes() == {}
    assert overlay.get(b"a") == b"1"


# -- properties --------------------------------------------------------------------------------

_ALPHABET = (0x00, 0x61, 0x62, 0xFF)
_keys = st.lists(st.sampled_from(_ALPHABET), min_size=1, max_size=3).map(bytes)
_bounds = st.lists(st.sampled_from(_ALPHABET), max_size=3).map(bytes)
_values = st.binary(max_size=4)


class OverlayMachine(RuleBasedStateMachine):
    """Random overlay operations, checked against a base dict plus a stack of layer dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.store = SpyStorage()
        self.overlay = StateOverlay(self.store)
        self.base: dict[bytes, bytes] = {}
        self.layers: list[dict[bytes, bytes | None]] = [{}]
        self.writes: set[bytes] = set()

    def view(self) -> dict[bytes, bytes]:
        """What the overlay should show: the base with every layer applied in order."""
        current = dict(self.base)
        for layer in self.layers:
            for key, value in layer.items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[key] = value
        return current

    @initialize(contents=st.dictionaries(_keys, _values, max_size=8))
    def fill_base(self, contents: dict[bytes, bytes]) -> None:
        self.store.write_batch(contents.items())
        self.store.batches.clear()
        self.base = dict(contents)

    @rule(key=_keys, value=_values)
    def set(self, key: bytes, value: bytes) -> None:
        self.overlay.set(key, value)
        self.layers[-1][key] = value
        self.writes.add(key)

    @rule(key=_keys)
    def delete(self, key: bytes) -> None:
        self.overlay.delete(key)
        self.layers[-1][key] = None
        self.writes.add(key)

    @rule()
    def snapshot(self) -> None:
        self.overlay.snapshot()
        self.layers.append({})

    @precondition(lambda self: len(self.layers) > 1)
    @rule()
    def commit_snapshot(self) -> None:
        self.overlay.commit_snapshot()
        top = self.layers.pop()
        self.layers[-1].update(top)

    @precondition(lambda self: len(self.layers) > 1)
    @rule()
    def rollback_snapshot(self) -> None:
        self.overlay.rollback_snapshot()
        self.layers.pop()

    @rule(key=_keys, value=_values, fail=st.booleans())
    def snapshotted_block(self, key: bytes, value: bytes, fail: bool) -> None:
        try:
            with self.overlay.snapshotted():
                self.overlay.set(key, value)
                self.overlay.delete(key + b"\x00")
                if fail:
                    raise LookupError
        except LookupError:
            pass
        self.writes |= {key, key + b"\x00"}
        if not fail:
            self.layers[-1][key] = value
            self.layers[-1][key + b"\x00"] = None

    @rule()
    def commit(self) -> None:
        expected = self.view()
        net: dict[bytes, bytes | None] = {}
        for layer in self.layers:
            net.update(layer)
        self.store.batches.clear()
        assert len(self.overlay.commit()) == len(net)
        assert self.store.batches == ([sorted(net.items())] if net else [])
        self.base = expected
        self.layers = [{}]

    @rule()
    def discard(self) -> None:
        self.overlay.discard()
        self.layers = [{}]

    @rule(key=_keys, value=_values)
    def write_base_directly(self, key: bytes, value: bytes) -> None:
        """Another committer changed the backend: visible wherever the overlay has no entry."""
        self.store.set(key, value)
        self.base[key] = value

    @rule(key=_keys)
    def get(self, key: bytes) -> None:
        assert self.overlay.get(key) == self.view().get(key)
        assert self.overlay.has(key) == (key in self.view())
        assert key in self.overlay.reads

    @rule(start=_bounds, end=st.none() | _bounds, reverse=st.booleans())
    def iterate(self, start: bytes, end: bytes | None, reverse: bool) -> None:
        expected = sorted(
            ((k, v) for k, v in self.view().items() if k >= start and (end is None or k < end)),
            reverse=reverse,
        )
        got = list(self.overlay.iterate(start, end, reverse=reverse))
        assert got == expected
        assert {k for k, _ in got} <= self.overlay.reads

    @rule(prefix=_bounds, reverse=st.booleans())
    def iterate_prefix(self, prefix: bytes, reverse: bool) -> None:
        expected = sorted(
            ((k, v) for k, v in self.view().items() if k.startswith(prefix)), reverse=reverse
        )
        assert list(self.overlay.iterate_prefix(prefix, reverse=reverse)) == expected
        assert list(self.overlay.iterate(prefix, prefix_end(prefix), reverse=reverse)) == expected

    @invariant()
    def structure(self) -> None:
        assert self.overlay.depth == len(self.layers) - 1
        net: dict[bytes, bytes | None] = {}
        for layer in self.layers:
            net.update(layer)
        assert self.overlay.changes() == net
        assert self.overlay.writes == self.writes
        assert dict(self.store.iterate()) == self.base


TestOverlayMachine = OverlayMachine.TestCase
TestOverlayMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_peek_does_not_record_and_apply_buffers_changes() -> None:
    from supervm import StateOverlay
    from supervm_storage_memory import MemoryStorage

    base = MemoryStorage()
    base.set(b"a", b"1")
    state = StateOverlay(base)
    state.snapshot()
    state.set(b"b", b"2")
    assert state.peek(b"a") == b"1" and state.peek(b"b") == b"2" and state.peek(b"c") is None
    assert state.reads == set()
    state.apply([(b"a", None), (b"c", b"3")])
    assert state.writes == {b"a", b"b", b"c"}
    state.rollback_snapshot()
    assert state.peek(b"a") == b"1" and state.peek(b"c") is None
    state.apply([(b"a", b"9")])
    state.commit()
    assert dict(base.iterate()) == {b"a": b"9"}
