"""Read/write sets of speculative executions, and the conflict check that validates them.

Execution is deterministic: a call's result and writes are a function of its code, context,
input and the values it read. So a speculative execution is exactly the serial one when every
value it read (and every range it iterated) is what the serial order would have shown it at
that point. :class:`ConflictDetector` checks precisely that against the block's state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs
from supervm import StateOverlay, Storage
from supervm.state.storage import Change

#: An iterated range: (start, end, reverse, the pairs seen).
RangeRead = tuple[bytes, bytes | None, bool, tuple[tuple[bytes, bytes], ...]]


@attrs.frozen
class ReadWriteSet:
    """What one execution read from outside itself, and what it wrote.

    :param reads: each key read, with the value seen (``None``: absent).
    :param ranges: each range iterated, with the pairs seen.
    :param writes: the net changes (``None``: deleted).
    """

    reads: tuple[tuple[bytes, bytes | None], ...]
    ranges: tuple[RangeRead, ...]
    writes: tuple[Change, ...]

    def read_keys(self) -> set[bytes]:
        """Every key read, including the keys seen in ranges."""
        keys = {k for k, _ in self.reads}
        for _start, _end, _rev, items in self.ranges:
            keys.update(k for k, _ in items)
        return keys

    def write_keys(self) -> set[bytes]:
        """Every key written or deleted."""
        return {k for k, _ in self.writes}


class RecordingView(Storage):
    """A read-only view of a state that remembers what was read through it.

    A call's own :class:`StateOverlay` sits on top, so only reads that reach past the call's
    own writes (its external reads) arrive here.
    """

    def __init__(self, base: StateOverlay) -> None:
        self._base = base
        self.observed: dict[bytes, bytes | None] = {}
        self.ranges: list[RangeRead] = []

    def get(self, key: bytes) -> bytes | None:
        if key in self.observed:
            return self.observed[key]
        value = self.observed[key] = self._base.peek(key)
        return value

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        items = tuple(self._base.iterate(start, end, reverse=reverse))
        self.ranges.append((start, end, reverse, items))
        return iter(items)

    def write_batch(self, changes: Iterable[Change]) -> None:
        raise RuntimeError("a recording view is read-only")

    def read_write_set(self, writes: Iterable[Change]) -> ReadWriteSet:
        """The read/write set of the execution that used this view."""
        return ReadWriteSet(tuple(self.observed.items()), tuple(self.ranges), tuple(writes))


class ConflictDetector:
    """Decides whether a speculative execution saw exactly the state serial order gives it."""

    @staticmethod
    def is_valid(rw: ReadWriteSet, state: StateOverlay) -> bool:
        """Whether every read of ``rw`` matches ``state`` (the block state before the call)."""
        return ConflictDetector.valid(rw.reads, rw.ranges, state)

    @staticmethod
    def valid(
        reads: Iterable[tuple[bytes, bytes | None]],
        ranges: Iterable[RangeRead],
        state: StateOverlay,
    ) -> bool:
        """:meth:`is_valid` on the parts of a read/write set, as they travel from workers."""
        return not ConflictDetector.stale_keys(reads, state) and ConflictDetector.ranges_hold(
            ranges, state
        )

    @staticmethod
    def stale_keys(reads: Iterable[tuple[bytes, bytes | None]], state: StateOverlay) -> set[bytes]:
        """The keys read whose value in ``state`` is no longer the value seen."""
        peek = state.peek
        return {key for key, value in reads if peek(key) != value}

    @staticmethod
    def ranges_hold(ranges: Iterable[RangeRead], state: StateOverlay) -> bool:
        """Whether every range iterated still holds exactly the pairs seen."""
        return all(
            tuple(state.iterate(start, end, reverse=reverse)) == items
            for start, end, reverse, items in ranges
        )
