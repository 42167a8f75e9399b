"""DependencyGraph, ReadWriteSet and ConflictDetector on their own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from supervm import StateOverlay
from supervm_scheduler_parallel import ConflictDetector, DependencyGraph, ReadWriteSet
from supervm_scheduler_parallel.rwset import RecordingView
from supervm_storage_memory import MemoryStorage


def test_chain_and_waves() -> None:
    graph = DependencyGraph.build(
        [
            ({b"a"}, {b"a"}),  # 0
            ({b"b"}, {b"b"}),  # 1: independent of 0
            ({b"a"}, {b"c"}),  # 2: reads what 0 wrote
            ({b"c"}, set()),  # 3: reads what 2 wrote
            (set(), {b"b"}),  # 4: writes what 1 wrote
        ]
    )
    assert graph.depends_on == (
        frozenset(),
        frozenset(),
        frozenset({0}),
        frozenset({2}),
        frozenset({1}),
    )
    assert graph.longest_chain() == 3
    assert graph.waves() == [[0, 1], [2, 4], [3]]
    assert graph.parallelism() == 5 / 3


@given(st.lists(st.tuples(st.sets(st.integers(0, 6)), st.sets(st.integers(0, 6))), max_size=30))
def test_waves_respect_every_dependency(accesses) -> None:  # type: ignore[no-untyped-def]
    keyed = [
        ({bytes([r]) for r in reads}, {bytes([w]) for w in writes}) for reads, writes in accesses
    ]
    graph = DependencyGraph.build(keyed)
    wave_of = {j: n for n, wave in enumerate(graph.waves()) for j in wave}
    for j, deps in enumerate(graph.depends_on):
        assert all(wave_of[i] < wave_of[j] for i in deps)
        assert all(i < j for i in deps)
    assert graph.longest_chain() == len(graph.waves())


def test_recording_view_sees_only_external_reads_and_the_detector_checks_them() -> None:
    base = MemoryStorage()
    base.write_batch([(b"a", b"1"), (b"r1", b"x"), (b"r2", b"y")])
    block = StateOverlay(base)
    view = RecordingView(block)
    tx = StateOverlay(view)
    tx.set(b"own", b"w")
    assert tx.get(b"own") == b"w"  # the call's own write: not an external read
    assert tx.get(b"a") == b"1"
    assert tx.get(b"missing") is None
    assert list(tx.iterate(b"r", b"s")) == [(b"r1", b"x"), (b"r2", b"y")]
    rw = view.read_write_set(tx.changes().items())
    assert dict(rw.reads) == {b"a": b"1", b"missing": None}
    assert rw.write_keys() == {b"own"}
    assert rw.read_keys() == {b"a", b"missing", b"r1", b"r2"}
    assert ConflictDetector.is_valid(rw, block)
    block.set(b"missing", b"now")
    assert not ConflictDetector.is_valid(rw, block)
    assert ConflictDetector.stale_keys(rw.reads, block) == {b"missing"}
    block.delete(b"missing")
    assert ConflictDetector.stale_keys(rw.reads, block) == set()
    block.set(b"r3", b"z")  # a phantom in the iterated range
    assert not ConflictDetector.ranges_hold(rw.ranges, block)
    assert not ConflictDetector.is_valid(rw, block)


def test_read_write_set_is_plain_data() -> None:
    rw = ReadWriteSet(((b"k", None),), (), ((b"k", b"v"),))
    assert rw.read_keys() == {b"k"} and rw.write_keys() == {b"k"}
