"""The state overlay executions run on: nested snapshots, additions, read and write sets.

:class:`StateOverlay` buffers writes in nested snapshots over a
:class:`~supervm.state.storage.Storage`, records the keys read and written, and reaches the
backend only in one atomic batch at :meth:`StateOverlay.commit`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from supervm.state.storage import Change, Storage, prefix_end

_DELETED = None
_MISSING = object()
_U256 = 2**256


class AddU256:
    """A pending commutative addition to a value read as a little-endian unsigned integer.

    Buffered instead of a read-modify-write so that calls that only add to a key (a balance
    credit, a fee counter) neither read it nor conflict with each other; the sum is worked out
    when the key is next read or committed. An absent or empty value counts as 0; the result is
    32 bytes, modulo 2**256.
    """

    __slots__ = ("amount",)

    def __init__(self, amount: int) -> None:
        self.amount = amount % _U256

    def onto(self, value: bytes | None) -> bytes:
        """The value after adding to ``value``."""
        current = int.from_bytes(value, "little") if value else 0
        return ((current + self.amount) % _U256).to_bytes(32, "little")

    def then(self, other: AddU256) -> AddU256:
        """Both additions as one."""
        return AddU256(self.amount + other.amount)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AddU256) and other.amount == self.amount

    def __hash__(self) -> int:
        return hash(("AddU256", self.amount))

    def __repr__(self) -> str:
        return f"AddU256({self.amount})"

    def __reduce__(self) -> tuple[type[AddU256], tuple[int]]:
        return (AddU256, (self.amount,))


#: What a layer holds for a key: a value, a deletion (``None``) or a pending addition.
Pending = bytes | None | AddU256


def _merge(layer: dict[bytes, Pending], key: bytes, value: Pending) -> bool:
    """Put ``value`` over whatever ``layer`` holds for ``key``; whether a delta remains."""
    if type(value) is not AddU256:
        layer[key] = value
        return False
    current = layer.get(key, _MISSING)
    if current is _MISSING:
        layer[key] = value
        return True
    if type(current) is AddU256:
        layer[key] = current.then(value)
        return True
    layer[key] = value.onto(current)  # type: ignore[arg-type]
    return False


class StateOverlay:
    """A write buffer over a :class:`Storage` with nested snapshots and access tracking.

    Reads fall through the snapshot layers to the backend; writes land in the innermost layer.
    :meth:`snapshot` opens a layer, :meth:`commit_snapshot` folds it into the one below, and
    :meth:`rollback_snapshot` drops it. :meth:`commit` writes the outermost layer to the backend
    in one atomic batch. Every key read and written is recorded in :attr:`reads` and
    :attr:`writes`, which the scheduler uses to detect conflicts.
    """

    __slots__ = ("_base", "_deltas", "_layers", "reads", "writes")

    def __init__(self, base: Storage) -> None:
        self._base = base
        self._layers: list[dict[bytes, Pending]] = [{}]
        #: Whether any layer may hold pending additions (without, merges take fast paths).
        self._deltas = False
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
        # The hottest call of contract execution: the plain case is inlined, sums go to peek.
        for layer in reversed(self._layers):
            if key in layer:
                value = layer[key]
                if type(value) is AddU256:
                    return self.peek(key)
                return value  # type: ignore[return-value]
        return self._base.get(key)

    def has(self, key: bytes) -> bool:
        """Whether ``key`` currently holds a value."""
        return self.get(key) is not None

    def peek(self, key: bytes) -> bytes | None:
        """The current value of ``key``, without recording a read (for validators)."""
        added: AddU256 | None = None
        for layer in reversed(self._layers):
            if key in layer:
                value = layer[key]
                if not isinstance(value, AddU256):
                    return value if added is None else added.onto(value)
                added = value if added is None else value.then(added)
        base = self._base.get(key)
        return base if added is None else added.onto(base)

    def apply(self, changes: Iterable[tuple[bytes, Pending]]) -> None:
        """Buffer many changes at once (``None`` deletes, :class:`AddU256` adds), as writes."""
        layer = self._layers[-1]
        for key, value in changes:
            self.writes.add(key)
            if type(value) is AddU256:
                self._deltas |= _merge(layer, key, value)
            else:
                layer[key] = value

    def add_u256(self, key: bytes, amount: int) -> None:
        """Buffer ``value += amount`` without reading the value (see :class:`AddU256`)."""
        self.writes.add(key)
        self._deltas |= _merge(self._layers[-1], key, AddU256(amount))

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
        pending: dict[bytes, Pending] = {}
        for layer in self._layers:
            for key, value in layer.items():
                if key >= start and (end is None or key < end):
                    _merge(pending, key, value)
        base_get = self._base.get
        resolved = {
            k: (v.onto(base_get(k)) if isinstance(v, AddU256) else v) for k, v in pending.items()
        }
        buffered = [(k, resolved[k]) for k in sorted(resolved, reverse=reverse)]
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

    def commit_snapshot(self) -> Mapping[bytes, Pending]:
        """Keep the writes of the innermost snapshot, folding them into the enclosing one.

        Returns what the snapshot changed: its net writes, deletions (``None``) and additions,
        relative to the state it was opened on. (A scheduler publishes exactly this as a call's
        or a chunk's effect, without looking the keys up again.)
        """
        if len(self._layers) < 2:
            raise RuntimeError("no open snapshot to commit")
        top = self._layers.pop()
        if not self._deltas:
            self._layers[-1].update(top)
            return top
        below = self._layers[-1]
        for key, value in top.items():
            _merge(below, key, value)
        return top

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

    def changes(self) -> dict[bytes, Pending]:
        """The net buffered changes of all layers: values, deletions (``None``) and additions."""
        # The bottom layer is taken as it is: merging matters only for what lies above it.
        merged = dict(self._layers[0])
        if not self._deltas:
            for layer in self._layers[1:]:
                merged.update(layer)
            return merged
        for layer in self._layers[1:]:
            for key, value in layer.items():
                _merge(merged, key, value)
        return merged

    def resolved_changes(self) -> list[Change]:
        """The net changes as the backend will store them (additions worked out), sorted."""
        base_get = self._base.get
        changes = self.changes()
        resolved: list[Change] = []
        for key in sorted(changes):  # keys alone sort faster than (key, value) pairs
            value = changes[key]
            if isinstance(value, AddU256):
                resolved.append((key, value.onto(base_get(key))))
            else:
                resolved.append((key, value))
        return resolved

    def commit(self) -> list[Change]:
        """Write every buffered change to the backend in one atomic batch.

        Open snapshots are committed too. Returns the changes written, sorted by key (a
        scheduler ships them to replicas). On failure the backend is unchanged and the buffer
        is kept, so the caller may retry or discard it.
        """
        changes = self.resolved_changes()
        if changes:
            self._base.write_batch(changes)
        self.discard()
        return changes

    def discard(self) -> None:
        """Drop every buffered change."""
        self._layers = [{}]
        self._deltas = False

    def reset_tracking(self) -> None:
        """Forget the recorded read and write sets (kept buffered changes)."""
        self.reads = set()
        self.writes = set()


def _first(item: tuple[bytes, bytes | None]) -> bytes:
    return item[0]
