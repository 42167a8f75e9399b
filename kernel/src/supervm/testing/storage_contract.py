"""A reusable pytest suite every :class:`~supervm.state.storage.Storage` backend must pass.

The kernel and the state overlay rely on exact semantics (byte order, ``[start, end)`` bounds,
all-or-nothing batches, consistent iteration), and a backend that differs in an edge case breaks
consensus only on the nodes that use it. So each backend runs this same suite. Subclass
:class:`StorageContract` in a test module and say how to build a fresh, empty store::

    import itertools
    import pytest
    from supervm.state.storage import StorageSettings
    from supervm.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def make_storage(self, tmp_path):
            counter = itertools.count()
            return lambda: MyStorage(StorageSettings(data_dir=tmp_path / f"db{next(counter)}"))

Overriding the ``storage`` fixture instead (yielding one empty store) works too; the property
tests then reuse that store and empty it before every example. Backends with a key-size limit
set :attr:`StorageContract.max_key_size`.

Rules the suite enforces beyond the :class:`~supervm.state.storage.Storage` docstrings, so that code
tested on one backend runs on all: keys and values must be ``bytes`` (anything else, even
``bytearray``, raises :class:`TypeError`); the empty key raises :class:`ValueError`; the empty
value is a real value, distinct from a missing key; a key over the backend's limit raises
:class:`~supervm.errors.StorageError`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervm.errors import StorageError
from supervm.state.storage import Change, Storage, prefix_end

__all__ = ["StorageContract"]

#: Bytes keys are drawn from in property tests: few, so keys collide and share prefixes, and
#: including the extremes 0x00 and 0xff, where ordering and prefix bugs live.
KEY_ALPHABET = (0x00, 0x01, 0x61, 0x7F, 0x80, 0xFE, 0xFF)

_keys = st.lists(st.sampled_from(KEY_ALPHABET), min_size=1, max_size=4).map(bytes)
_bounds = st.lists(st.sampled_from(KEY_ALPHABET), max_size=4).map(bytes)
_values = st.binary(max_size=24)
_change: st.SearchStrategy[Change] = st.tuples(_keys, st.none() | _values)
#: An operation is ``(kind, changes)``: ``set`` and ``delete`` carry one change, ``batch`` many.
_operation: st.SearchStrategy[tuple[str, list[Change]]] = st.one_of(
    st.tuples(st.just("set"), st.tuples(_keys, _values).map(lambda c: [c])),
    st.tuples(st.just("delete"), _keys.map(lambda k: [(k, None)])),
    st.tuples(st.just("batch"), st.lists(_change, max_size=8)),
)
_operations = st.lists(_operation, max_size=25)

#: Settings of the property tests. Health checks suppressed, and why that is safe here:
#: ``function_scoped_fixture``: examples share the ``storage`` fixture, but each empties it first;
#: ``differing_executors``: every backend's subclass runs the same inherited test, so saved
#: failing examples replay across backends, which is harmless (any input is valid for any store);
#: ``too_slow``: durable backends fsync every write.
_property = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.differing_executors,
        HealthCheck.too_slow,
    ],
)


def _apply(storage: Storage, model: dict[bytes, bytes], kind: str, changes: list[Change]) -> None:
    """Apply one operation to the backend and to the dict model."""
    if kind == "set":
        ((key, value),) = changes
        assert value is not None
        storage.set(key, value)
    elif kind == "delete":
        ((key, _),) = changes
        storage.delete(key)
    else:
        storage.write_batch(changes)
    for key, maybe in changes:
        if maybe is None:
            model.pop(key, None)
        else:
            model[key] = maybe


def _model_range(
    model: dict[bytes, bytes], start: bytes, end: bytes | None, reverse: bool
) -> list[tuple[bytes, bytes]]:
    return sorted(
        ((k, v) for k, v in model.items() if k >= start and (end is None or k < end)),
        reverse=reverse,
    )


def _clear(storage: Storage) -> None:
    """Empty a store, so property-test examples sharing one fixture start from scratch."""
    keys = [key for key, _ in storage.iterate()]
    if keys:
        storage.write_batch([(key, None) for key in keys])


def _contents(storage: Storage) -> list[tuple[bytes, bytes]]:
    return list(storage.iterate())


class StorageContract:
    """The storage contract as pytest tests; subclass it and override :meth:`make_storage`."""

    #: Longest key the backend accepts (``None``: no limit below 1 KiB worth testing).
    max_key_size: ClassVar[int | None] = None

    # -- fixtures ------------------------------------------------------------------------------

    @pytest.fixture
    def make_storage(self) -> Callable[[], Storage]:
        """Return a callable that opens a new, empty store. Override this (or ``storage``)."""
        raise NotImplementedError(
            f"{type(self).__name__} must override the make_storage or storage fixture"
        )

    @pytest.fixture
    def storage(self, make_storage: Callable[[], Storage]) -> Iterator[Storage]:
        """One empty store, closed after the test."""
        store = make_storage()
        try:
            yield store
        finally:
            store.close()

    # -- single keys ---------------------------------------------------------------------------

    def test_missing_key(self, storage: Storage) -> None:
        assert storage.get(b"missing") is None
        assert not storage.has(b"missing")

    def test_set_get_has(self, storage: Storage) -> None:
        storage.set(b"k", b"v")
        assert storage.get(b"k") == b"v"
        assert type(storage.get(b"k")) is bytes
        assert storage.has(b"k")
        assert storage.get(b"k2") is None
        assert storage.get(b"k\x00") is None

    def test_overwrite(self, storage: Storage) -> None:
        storage.set(b"k", b"one")
        storage.set(b"k", b"two")
        assert storage.get(b"k") == b"two"
        assert _contents(storage) == [(b"k", b"two")]

    def test_delete(self, storage: Storage) -> None:
        storage.set(b"a", b"1")
        storage.set(b"b", b"2")
        storage.delete(b"a")
        assert storage.get(b"a") is None
        assert not storage.has(b"a")
        assert storage.get(b"b") == b"2"

    def test_set_and_delete_are_idempotent(self, storage: Storage) -> None:
        storage.delete(b"never-set")
        storage.set(b"k", b"v")
        storage.set(b"k", b"v")
        assert _contents(storage) == [(b"k", b"v")]
        storage.delete(b"k")
        storage.delete(b"k")
        assert _contents(storage) == []

    def test_empty_value_is_a_value(self, storage: Storage) -> None:
        storage.set(b"k", b"")
        assert storage.get(b"k") == b""
        assert storage.has(b"k")
        assert _contents(storage) == [(b"k", b"")]

    def test_binary_keys_and_values(self, storage: Storage) -> None:
        pairs = {bytes([i]): bytes([255 - i]) * 3 for i in range(256)}
        pairs[b"\x00\x00"] = b"\x00"
        pairs[b"\xff\xff\xff"] = b"\xff"
        storage.write_batch(pairs.items())
        for key, value in pairs.items():
            assert storage.get(key) == value
        assert _contents(storage) == sorted(pairs.items())

    def test_long_keys(self, storage: Storage) -> None:
        size = self.max_key_size or 1024
        longest = b"k" * size
        storage.set(longest, b"v")
        assert storage.get(longest) == b"v"
        assert storage.get(longest[:-1]) is None
        assert list(storage.iterate_prefix(longest[:10])) == [(longest, b"v")]

    def test_key_over_limit_is_rejected(self, storage: Storage) -> None:
        if self.max_key_size is None:
            pytest.skip("backend has no key-size limit")
        too_long = b"k" * (self.max_key_size + 1)
        with pytest.raises(StorageError, match=str(self.max_key_size)):
            storage.set(too_long, b"v")
        with pytest.raises(StorageError, match=str(self.max_key_size)):
            storage.write_batch([(b"fine", b"v"), (too_long, b"v")])
        assert _contents(storage) == []

    def test_iteration_bounds_longer_than_any_key(self, storage: Storage) -> None:
        """Bounds are not stored keys: they may exceed the key-size limit and still work."""
        size = (self.max_key_size or 1024) + 10
        storage.write_batch([(b"a", b"1"), (b"b", b"2"), (b"b" * 3, b"3"), (b"c", b"4")])
        long_b = b"b" * size
        assert [k for k, _ in storage.iterate(long_b)] == [b"c"]
        assert [k for k, _ in storage.iterate(b"", long_b)] == [b"a", b"b", b"bbb"]
        assert [k for k, _ in storage.iterate(b"", long_b, reverse=True)] == [b"bbb", b"b", b"a"]
        assert [k for k, _ in storage.iterate(long_b, reverse=True)] == [b"c"]
        assert list(storage.iterate_prefix(long_b)) == []

    # -- argument checking ---------------------------------------------------------------------

    @pytest.mark.parametrize("key", ["text", bytearray(b"k"), memoryview(b"k"), 1, None])
    def test_non_bytes_key_is_a_type_error(self, storage: Storage, key: Any) -> None:
        with pytest.raises(TypeError, match="bytes"):
            storage.set(key, b"v")
        with pytest.raises(TypeError, match="bytes"):
            storage.get(key)
        with pytest.raises(TypeError, match="bytes"):
            storage.delete(key)
        with pytest.raises(TypeError, match="bytes"):
            storage.write_batch([(key, None)])

    @pytest.mark.parametrize("value", ["text", bytearray(b"v"), 1])
    def test_non_bytes_value_is_a_type_error(self, storage: Storage, value: Any) -> None:
        with pytest.raises(TypeError, match="bytes"):
            storage.set(b"k", value)
        with pytest.raises(TypeError, match="bytes"):
            storage.write_batch([(b"k", value)])
        assert storage.get(b"k") is None

    def test_empty_key_is_a_value_error(self, storage: Storage) -> None:
        with pytest.raises(ValueError, match="empty"):
            storage.set(b"", b"v")
        with pytest.raises(ValueError, match="empty"):
            storage.get(b"")
        with pytest.raises(ValueError, match="empty"):
            storage.delete(b"")
        with pytest.raises(ValueError, match="empty"):
            storage.write_batch([(b"", None)])
        assert _contents(storage) == []

    def test_non_bytes_bounds_are_a_type_error(self, storage: Storage) -> None:
        with pytest.raises(TypeError):
            list(storage.iterate("a"))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            list(storage.iterate(b"a", "b"))  # type: ignore[arg-type]

    # -- iteration -----------------------------------------------------------------------------

    def test_iteration_is_in_unsigned_byte_order(self, storage: Storage) -> None:
        keys = [b"b", b"a\x00", b"\x80", b"a", b"\x7f", b"\xff", b"\x00", b"ab", b"a\xff"]
        storage.write_batch([(k, k) for k in keys])
        expected = sorted(keys)
        # Unsigned: 0x7f < 0x80 < 0xff, and a prefix sorts before its extensions.
        assert expected == [
            b"\x00",
            b"a",
            b"a\x00",
            b"ab",
            b"a\xff",
            b"b",
            b"\x7f",
            b"\x80",
            b"\xff",
        ]
        assert [k for k, _ in storage.iterate()] == expected
        assert [k for k, _ in storage.iterate(reverse=True)] == expected[::-1]
        assert all(k == v for k, v in storage.iterate())

    def test_iterate_empty_store(self, storage: Storage) -> None:
        assert list(storage.iterate()) == []
        assert list(storage.iterate(reverse=True)) == []
        assert list(storage.iterate(b"a", b"z")) == []
        assert list(storage.iterate_prefix(b"a", reverse=True)) == []

    def test_range_bounds(self, storage: Storage) -> None:
        storage.write_batch([(k, b"v") for k in (b"a", b"b", b"ba", b"c", b"d")])

        def keys(
            start: bytes = b"", end: bytes | None = None, reverse: bool = False
        ) -> list[bytes]:
            return [k for k, _ in storage.iterate(start, end, reverse=reverse)]

        assert keys(b"b", b"d") == [b"b", b"ba", b"c"]  # start inclusive, end exclusive
        assert keys(b"b", b"d", True) == [b"c", b"ba", b"b"]
        assert keys(b"bb", b"cc") == [b"c"]  # bounds need not exist
        assert keys(b"bb", b"cc", True) == [b"c"]
        assert keys(b"b", b"b") == []
        assert keys(b"d", b"a") == []  # start after end: empty, not an error
        assert keys(b"d", b"a", True) == []
        assert keys(b"c") == [b"c", b"d"]
        assert keys(b"c", None, True) == [b"d", b"c"]
        assert keys(b"", b"b") == [b"a"]
        assert keys(b"", b"b", True) == [b"a"]
        assert keys(b"e") == []
        assert keys(b"e", None, True) == []
        assert keys(b"\x00", b"a") == []
        assert keys(b"\x00", b"a\x00") == [b"a"]

    def test_prefix_iteration(self, storage: Storage) -> None:
        keys = [b"a", b"ab", b"abc", b"abd", b"ac", b"b", b"ab\xff", b"ab\xff\x00", b"ac\x00"]
        storage.write_batch([(k, b"v") for k in keys])
        assert [k for k, _ in storage.iterate_prefix(b"ab")] == [
            b"ab",
            b"abc",
            b"abd",
            b"ab\xff",
            b"ab\xff\x00",
        ]
        assert [k for k, _ in storage.iterate_prefix(b"ab", reverse=True)] == [
            b"ab\xff\x00",
            b"ab\xff",
            b"abd",
            b"abc",
            b"ab",
        ]
        assert [k for k, _ in storage.iterate_prefix(b"")] == sorted(keys)
        assert list(storage.iterate_prefix(b"zz")) == []

    def test_prefix_ending_in_ff(self, storage: Storage) -> None:
        keys = [b"a\xfe", b"a\xfe\xff", b"a\xff", b"a\xff\x00", b"a\xff\xff", b"a\xff\xff\x01"]
        keys += [b"b", b"\xff", b"\xff\x00", b"\xff\xff", b"\xff\xff\xff"]
        storage.write_batch([(k, b"v") for k in keys])
        assert [k for k, _ in storage.iterate_prefix(b"a\xff")] == [
            b"a\xff",
            b"a\xff\x00",
            b"a\xff\xff",
            b"a\xff\xff\x01",
        ]
        assert [k for k, _ in storage.iterate_prefix(b"a\xff\xff")] == [
            b"a\xff\xff",
            b"a\xff\xff\x01",
        ]
        # An all-0xff prefix has no finite upper bound: it runs to the end of the key space.
        assert [k for k, _ in storage.iterate_prefix(b"\xff")] == [
            b"\xff",
            b"\xff\x00",
            b"\xff\xff",
            b"\xff\xff\xff",
        ]
        assert [k for k, _ in storage.iterate_prefix(b"\xff\xff", reverse=True)] == [
            b"\xff\xff\xff",
            b"\xff\xff",
        ]

    def test_many_keys_in_order(self, storage: Storage) -> None:
        rng = random.Random(1234)
        keys = {rng.randbytes(rng.randint(1, 12)) for _ in range(3000)}
        storage.write_batch((k, k[::-1]) for k in keys)
        assert [k for k, _ in storage.iterate()] == sorted(keys)
        assert [k for k, _ in storage.iterate(reverse=True)] == sorted(keys, reverse=True)
        lo, hi = sorted(rng.sample(sorted(keys), 2))
        assert [k for k, _ in storage.iterate(lo, hi)] == [k for k in sorted(keys) if lo <= k < hi]

    def test_iterator_sees_a_consistent_view(self, storage: Storage) -> None:
        storage.write_batch([(b"a", b"1"), (b"b", b"2"), (b"c", b"3"), (b"d", b"4")])
        untouched = storage.iterate()
        started = storage.iterate()
        backwards = storage.iterate(reverse=True)
        assert next(started) == (b"a", b"1")
        assert next(backwards) == (b"d", b"4")
        storage.write_batch([(b"b", None), (b"c", b"changed"), (b"bb", b"new"), (b"e", b"5")])
        expected = [(b"a", b"1"), (b"b", b"2"), (b"c", b"3"), (b"d", b"4")]
        assert list(untouched) == expected
        assert list(started) == expected[1:]
        assert list(backwards) == expected[::-1][1:]
        assert list(storage.iterate()) == [
            (b"a", b"1"),
            (b"bb", b"new"),
            (b"c", b"changed"),
            (b"d", b"4"),
            (b"e", b"5"),
        ]

    def test_writing_while_iterating(self, storage: Storage) -> None:
        """The common migration pattern: walk a range and rewrite it as you go."""
        storage.write_batch([(bytes([i]), b"old") for i in range(1, 50)])
        for key, value in storage.iterate():
            assert value == b"old"
            storage.delete(key)
            storage.set(key + b"\x00", b"new")
        assert _contents(storage) == [(bytes([i]) + b"\x00", b"new") for i in range(1, 50)]

    def test_abandoned_iterators_do_not_block_writes(self, storage: Storage) -> None:
        storage.write_batch([(bytes([i]), b"v") for i in range(1, 20)])
        for _ in range(300):
            iterator = storage.iterate()
            next(iterator)
        storage.set(b"after", b"v")
        assert storage.get(b"after") == b"v"

    # -- batches -------------------------------------------------------------------------------

    def test_batch_applies_sets_and_deletes(self, storage: Storage) -> None:
        storage.write_batch([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
        storage.write_batch([(b"a", None), (b"b", b"two"), (b"d", b"4"), (b"zz", None)])
        assert _contents(storage) == [(b"b", b"two"), (b"c", b"3"), (b"d", b"4")]

    def test_later_change_to_the_same_key_wins(self, storage: Storage) -> None:
        storage.set(b"x", b"old")
        storage.write_batch([(b"a", b"1"), (b"a", None), (b"b", None), (b"b", b"2")])
        storage.write_batch([(b"x", b"1"), (b"x", b"2")])
        assert _contents(storage) == [(b"b", b"2"), (b"x", b"2")]

    def test_empty_batch(self, storage: Storage) -> None:
        storage.set(b"k", b"v")
        storage.write_batch([])
        storage.write_batch(iter(()))
        assert _contents(storage) == [(b"k", b"v")]

    def test_batch_accepts_any_iterable(self, storage: Storage) -> None:
        storage.write_batch((bytes([i]), b"v") for i in range(1, 4))
        storage.write_batch({b"\x04": b"v"}.items())
        assert [k for k, _ in storage.iterate()] == [b"\x01", b"\x02", b"\x03", b"\x04"]

    @pytest.mark.parametrize(
        ("bad", "error"),
        [
            ((b"k", "str value"), TypeError),
            (("str key", b"v"), TypeError),
            ((b"", b"v"), ValueError),
            ((b"", None), ValueError),
            ((b"k", 5), TypeError),
            ((b"k",), (TypeError, ValueError)),
        ],
    )
    def test_batch_with_an_invalid_item_changes_nothing(
        self,
        storage: Storage,
        bad: Any,
        error: type[Exception] | tuple[type[Exception], ...],
    ) -> None:
        storage.write_batch([(b"keep", b"old"), (b"gone", b"old")])
        before = _contents(storage)
        batch: list[Any] = [(b"keep", b"new"), (b"gone", None), (b"added", b"v"), bad, (b"z", b"v")]
        with pytest.raises(error):
            storage.write_batch(batch)
        assert _contents(storage) == before
        # And the store is still usable.
        storage.write_batch([(b"keep", b"new")])
        assert storage.get(b"keep") == b"new"

    def test_large_values(self, storage: Storage) -> None:
        rng = random.Random(99)
        big = rng.randbytes(4 << 20)
        medium = {b"m%04d" % i: rng.randbytes(20_000) for i in range(100)}
        storage.set(b"big", big)
        storage.write_batch(medium.items())
        assert storage.get(b"big") == big
        assert dict(storage.iterate_prefix(b"m")) == medium
        storage.set(b"big", b"small now")
        assert storage.get(b"big") == b"small now"

    # -- lifecycle -----------------------------------------------------------------------------

    def test_close_is_idempotent(self, storage: Storage) -> None:
        storage.set(b"k", b"v")
        storage.close()
        storage.close()  # and the fixture closes it a third time

    def test_context_manager_closes(self, storage: Storage) -> None:
        with storage as store:
            assert store is storage
            store.set(b"k", b"v")
            assert store.get(b"k") == b"v"
        storage.close()

    # -- properties against a dict model -------------------------------------------------------

    @_property
    @given(operations=_operations, probes=st.lists(_keys, max_size=10))
    def test_operations_match_a_dict(
        self,
        storage: Storage,
        operations: Sequence[tuple[str, list[Change]]],
        probes: list[bytes],
    ) -> None:
        _clear(storage)
        model: dict[bytes, bytes] = {}
        for kind, changes in operations:
            _apply(storage, model, kind, changes)
            for key, _ in changes:
                assert storage.get(key) == model.get(key)
        for key in [*model, *probes]:
            assert storage.get(key) == model.get(key)
            assert storage.has(key) == (key in model)
        assert _contents(storage) == sorted(model.items())

    @_property
    @given(operations=_operations, data=st.data())
    def test_ranges_match_a_dict(
        self,
        storage: Storage,
        operations: Sequence[tuple[str, list[Change]]],
        data: st.DataObject,
    ) -> None:
        _clear(storage)
        model: dict[bytes, bytes] = {}
        for kind, changes in operations:
            _apply(storage, model, kind, changes)
        # Bounds are often stored keys, or just beside them, where off-by-one bugs show.
        near = [b for k in model for b in (k, k + b"\x00", k[:-1])]
        bound = st.sampled_from(near) | _bounds if near else _bounds
        for _ in range(data.draw(st.integers(min_value=1, max_value=6), label="ranges")):
            start = data.draw(bound, label="start")
            end = data.draw(st.none() | bound, label="end")
            reverse = data.draw(st.booleans(), label="reverse")
            got = list(storage.iterate(start, end, reverse=reverse))
            assert got == _model_range(model, start, end, reverse), (start, end, reverse)

    @_property
    @given(operations=_operations, data=st.data())
    def test_prefixes_match_a_dict(
        self,
        storage: Storage,
        operations: Sequence[tuple[str, list[Change]]],
        data: st.DataObject,
    ) -> None:
        _clear(storage)
        model: dict[bytes, bytes] = {}
        for kind, changes in operations:
            _apply(storage, model, kind, changes)
        # Prefixes of stored keys, so that scans usually find something.
        near = [k[:i] for k in model for i in range(len(k) + 1)]
        candidates = st.sampled_from(near) | _bounds if near else _bounds
        for prefix in data.draw(st.lists(candidates, min_size=1, max_size=6), label="prefixes"):
            expected = sorted((k, v) for k, v in model.items() if k.startswith(prefix))
            assert list(storage.iterate_prefix(prefix)) == expected, prefix
            assert list(storage.iterate_prefix(prefix, reverse=True)) == expected[::-1], prefix
            end = prefix_end(prefix)
            assert list(storage.iterate(prefix, end)) == expected, prefix

    @_property
    @given(
        operations=_operations,
        batch=st.lists(_change, max_size=8),
        position=st.integers(min_value=0, max_value=8),
        bad=st.sampled_from([(b"", b"v"), (b"k", "v"), ("k", b"v"), (b"", None)]),
    )
    def test_failed_batches_change_nothing(
        self,
        storage: Storage,
        operations: Sequence[tuple[str, list[Change]]],
        batch: list[Change],
        position: int,
        bad: Any,
    ) -> None:
        _clear(storage)
        model: dict[bytes, bytes] = {}
        for kind, changes in operations:
            _apply(storage, model, kind, changes)
        poisoned: list[Any] = list(batch)
        poisoned.insert(min(position, len(poisoned)), bad)
        with pytest.raises((TypeError, ValueError)):
            storage.write_batch(poisoned)
        assert _contents(storage) == sorted(model.items())
