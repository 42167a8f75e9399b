"""The storage contract every backend implements, and the state overlay executions run on.

A backend (:class:`Storage`) is an ordered byte-key/byte-value store with atomic batches. The
kernel never hands a backend to a contract directly: executions run on a :class:`StateOverlay`,
which buffers writes in nested snapshots, records the keys read and written, and reaches the
backend only in one atomic batch at :meth:`StateOverlay.commit`.
"""

from __future__ import annotations

import abc
import heapq
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import attrs

#: One change in a batch: a value to set, or ``None`` to delete the key.
Change = tuple[bytes, bytes | None]


@attrs.frozen
class StorageSettings:
    """How to open a storage backend.

    :param data_dir: directory for persistent backends; ``None`` for in-memory ones.
    :param map_size: maximum size in bytes for backends with a fixed-size map (LMDB).
    :param options: backend-specific options, as strings (from the command line or a file).
    """

    data_dir: Path | None = None
    map_size: int | None = None
    options: Mapping[str, str] = attrs.field(factory=dict)


class Storage(abc.ABC):
    """An ordered key-value store with atomic batches.

    Keys and values are bytes. Iteration is in ascending byte order. Single-key ``set`` and
    ``delete`` are each atomic; :meth:`write_batch` applies many changes atomically: after a
    crash either all of a batch is visible or none of it is.
    """

    @abc.abstractmethod
    def get(self, key: bytes) -> bytes | None:
        """Return the value stored under ``key``, or ``None``."""

    def has(self, key: bytes) -> bool:
        """Whether ``key`` holds a value."""
        return self.get(key) is not None

    def set(self, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key``, atomically."""
        self.write_batch([(key, value)])

    def delete(self, key: bytes) -> None:
        """Remove ``key`` if present, atomically."""
        self.write_batch([(key, None)])

    @abc.abstractmethod
    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(key, value)`` pairs with ``start <= key < end`` in key order.

        ``end=None`` means no upper bound. The iterator sees a consistent view.
        """

    def iterate_prefix(
        self, prefix: bytes, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield the pairs whose key starts with ``prefix``, in key order."""
        return self.iterate(prefix, prefix_end(prefix), reverse=reverse)

    @abc.abstractmethod
    def write_batch(self, changes: Iterable[Change]) -> None:
        """Apply every change atomically: all become visible (and durable) or none do."""

    def close(self) -> None:  # noqa: B027 - optional for backends with nothing to release
        """Release resources. The store must not be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (``None``: unbounded)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


_DELETED = None


class StateOverlay:
    """A write buffer over a :class:`Storage` with nested snapshots and access tracking.

    Reads fall through the snapshot layers to the backend; writes land in the innermost layer.
    :meth:`snapshot` opens a layer, :meth:`commit_snapshot` folds it into the one below, and
    :meth:`rollback_snapshot` drops it. :meth:`commit` writes the outermost layer to the backend
    in one atomic batch. Every key read and written is recorded in :attr:`reads` and
    :attr:`writes`, which the scheduler uses to detect conflicts.
    """

    __slots__ = ("_base", "_layers", "reads", "writes")

    def __init__(self, base: Storage) -> None:
        self._base = base
        self._layers: list[dict[bytes, bytes | None]] = [{}]
        self.reads: set[bytes] = set()
        self.writes: set[bytes] = set()

    @property
    def base(self) -> Storage:
        """The backend this overlay commits to."""
        return self._base

    @property
    def depth(self) -> int:
        """Number of open snapshots (0 when only the root layer exists)."""
        return len(self._layers) - 1

    def get(self, key: bytes) -> bytes | None:
        """The current value of ``key`` through all layers, recording the read."""
        self.reads.add(key)
        for layer in reversed(self._layers):
            if key in layer:
                return layer[key]
        return self._base.get(key)

    def has(self, key: bytes) -> bool:
        """Whether ``key`` currently holds a value."""
        return self.get(key) is not None

    def peek(self, key: bytes) -> bytes | None:
        """The current value of ``key``, without recording a read (for validators)."""
        for layer in reversed(self._layers):
            if key in layer:
                return layer[key]
        return self._base.get(key)

    def apply(self, changes: Iterable[Change]) -> None:
        """Buffer many changes at once (``None`` deletes), recording them as writes."""
        layer = self._layers[-1]
        for key, value in changes:
            self.writes.add(key)
            layer[key] = value

    def set(self, key: bytes, value: bytes) -> None:
        """Buffer a write of ``value`` under ``key``."""
        self.writes.add(key)
        self._layers[-1][key] = value

    def delete(self, key: bytes) -> None:
        """Buffer a deletion of ``key``."""
        self.writes.add(key)
        self._layers[-1][key] = _DELETED

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield current ``(key, value)`` pairs in ``[start, end)`` in key order.

        Buffered writes shadow the backend; buffered deletions hide keys. Keys yielded are
        recorded as read.
        """
        pending: dict[bytes, bytes | None] = {}
        for layer in self._layers:
            for key, value in layer.items():
                if key >= start and (end is None or key < end):
                    pending[key] = value
        buffered = [(k, pending[k]) for k in sorted(pending, reverse=reverse)]
        base = self._base.iterate(start, end, reverse=reverse)
        # heapq.merge is stable: on equal keys the buffered entry (first iterable) wins.
        last: bytes | None = None
        for key, value in heapq.merge(buffered, base, key=_first, reverse=reverse):
            if key == last:
                continue
            last = key
            self.reads.add(key)
            if value is not None:
                yield key, value

    def iterate_prefix(
        self, prefix: bytes, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield current pairs whose key starts with ``prefix``."""
        return self.iterate(prefix, prefix_end(prefix), reverse=reverse)

    def snapshot(self) -> None:
        """Open a nested snapshot; later writes can be rolled back to this point."""
        self._layers.append({})

    def commit_snapshot(self) -> None:
        """Keep the writes of the innermost snapshot, folding them into the enclosing one."""
        if len(self._layers) < 2:
            raise RuntimeError("no open snapshot to commit")
        top = self._layers.pop()
        self._layers[-1].update(top)

    def rollback_snapshot(self) -> None:
        """Discard the writes of the innermost snapshot."""
        if len(self._layers) < 2:
            raise RuntimeError("no open snapshot to roll back")
        self._layers.pop()

    @contextmanager
    def snapshotted(self) -> Iterator[StateOverlay]:
        """Run a block in a snapshot: commit it on normal exit, roll it back on an exception."""
        self.snapshot()
        try:
            yield self
        except BaseException:
            self.rollback_snapshot()
            raise
        self.commit_snapshot()

    def changes(self) -> dict[bytes, bytes | None]:
        """The net buffered changes of all layers (``None`` marks a deletion)."""
        merged: dict[bytes, bytes | None] = {}
        for layer in self._layers:
            merged.update(layer)
        return merged

    def commit(self) -> int:
        """Write every buffered change to the backend in one atomic batch.

        Open snapshots are committed too. Returns the number of keys written. On failure the
        backend is unchanged and the buffer is kept, so the caller may retry or discard it.
        """
        changes = self.changes()
        if changes:
            self._base.write_batch(sorted(changes.items()))
        self._layers = [{}]
        return len(changes)

    def discard(self) -> None:
        """Drop every buffered change."""
        self._layers = [{}]

    def reset_tracking(self) -> None:
        """Forget the recorded read and write sets (kept buffered changes)."""
        self.reads = set()
        self.writes = set()


def _first(item: tuple[bytes, bytes | None]) -> bytes:
    return item[0]
