"""An ordered in-memory :class:`~supervm.state.storage.Storage` backed by a ``SortedDict``.

It exists for tests, benchmarks and throwaway chains: it has the same semantics as the
persistent backends (ordering, atomic batches, key rules), so code that works on it works on
LMDB, but nothing survives the process.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator

from sortedcontainers import SortedDict  # type: ignore[import-untyped]
from supervm.errors import StorageError
from supervm.state.storage import Change, Storage, StorageSettings, validate_batch

__all__ = ["MemoryStorage"]


def _check_key(key: object) -> bytes:
    """Reject what no backend can store, so code tested in memory also runs on LMDB.

    LMDB rejects empty keys, so the memory backend does too: a key that only works in memory
    would be a bug waiting for the switch to a persistent store.
    """
    if not isinstance(key, bytes):
        raise TypeError(f"storage keys must be bytes, got {type(key).__name__}")
    if not key:
        raise ValueError("storage keys must not be empty")
    return key


def _check_bound(name: str, bound: object) -> None:
    if not isinstance(bound, bytes):
        raise TypeError(f"iteration bound {name} must be bytes, got {type(bound).__name__}")


class _RangeIterator:
    """A lazy iterator over a key range that keeps a consistent view under later writes.

    Iterating a ``SortedDict`` while it changes is undefined, and copying the range up front
    makes ``next(iterate(...))`` cost O(n). Instead the store tells every live iterator to
    :meth:`detach` just before it mutates: the iterator then copies what it has not yet
    yielded. Iterators that finish before any write never copy anything.
    """

    __slots__ = ("__weakref__", "_data", "_detached", "_keys", "_owner")

    def __init__(
        self,
        owner: MemoryStorage,
        data: SortedDict,
        start: bytes,
        end: bytes | None,
        reverse: bool,
    ) -> None:
        self._owner = owner
        self._data = data
        self._keys: Iterator[bytes] = data.irange(
            start, end, inclusive=(True, False), reverse=reverse
        )
        self._detached: Iterator[tuple[bytes, bytes]] | None = None

    def __iter__(self) -> _RangeIterator:
        return self

    def __next__(self) -> tuple[bytes, bytes]:
        if self._detached is not None:
            return next(self._detached)
        try:
            key = next(self._keys)
        except StopIteration:
            # Nothing left to protect: stop being notified of writes.
            self._owner._forget(self)
            raise
        value: bytes = self._data[key]
        return key, value

    def detach(self) -> None:
        """Copy the rest of the range now, because the store is about to change."""
        if self._detached is None:
            data = self._data
            self._detached = iter([(key, data[key]) for key in self._keys])


class MemoryStorage(Storage):
    """An ordered in-memory store with atomic batches.

    Batches are validated completely before the first change is applied, so an invalid item
    leaves the store untouched. Iterators are lazy and see the store as it was when
    :meth:`iterate` was called, even if it is written to while they are being consumed.

    :param settings: accepted so the class is a storage factory; this backend has no options
        and ignores them.
    """

    def __init__(self, settings: StorageSettings | None = None) -> None:
        self.settings = settings or StorageSettings()
        self._data: SortedDict = SortedDict()
        self._iterators: weakref.WeakSet[_RangeIterator] = weakref.WeakSet()
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._data)} keys"
        return f"<MemoryStorage {state}>"

    def __len__(self) -> int:
        """Number of keys stored (cheap here, so offered for tests and tools)."""
        return len(self._data)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("memory storage is closed")

    def get(self, key: bytes) -> bytes | None:
        # The hottest call in contract execution: the checks are inlined.
        if self._closed:
            self._check_open()
        if type(key) is not bytes or not key:
            _check_key(key)
        value: bytes | None = self._data.get(key)
        return value

    def has(self, key: bytes) -> bool:
        self._check_open()
        return _check_key(key) in self._data

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        self._check_open()
        _check_bound("start", start)
        if end is not None:
            _check_bound("end", end)
            if end <= start:
                return iter(())
        iterator = _RangeIterator(self, self._data, start, end, reverse)
        self._iterators.add(iterator)
        return iterator

    def write_batch(self, changes: Iterable[Change]) -> None:
        self._check_open()
        checked = validate_batch(changes, _check_key)
        if not checked:
            return
        self._detach_iterators()
        data = self._data
        # SortedDict is a dict whose sorted key list changes only when keys come or go: values
        # of keys it has are replaced through dict itself in one C-level update (a block's
        # commit is mostly such updates), and only new keys and deletions take the sorted path.
        # Items apply in order: a later change to a key wins.
        replaced: dict[bytes, bytes] = {}
        for key, value in checked:
            if value is not None and key in data:
                replaced[key] = value
                continue
            if replaced:
                dict.update(data, replaced)
                replaced = {}
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        if replaced:
            dict.update(data, replaced)

    def close(self) -> None:
        """Drop the data. Idempotent; the store cannot be used afterwards."""
        if self._closed:
            return
        self._detach_iterators()
        self._closed = True
        self._data = SortedDict()

    def _detach_iterators(self) -> None:
        for iterator in list(self._iterators):
            iterator.detach()
        self._iterators.clear()

    def _forget(self, iterator: _RangeIterator) -> None:
        self._iterators.discard(iterator)
