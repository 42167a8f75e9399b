"""The dependency graph of a block: which calls must follow which.

Call ``j`` depends on an earlier call ``i`` when ``j`` reads or writes a key ``i`` wrote
(read-after-write or write-after-write). Calls with no path between them can run in parallel;
the longest chain bounds the speed-up any scheduler can reach on the block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs


@attrs.frozen
class DependencyGraph:
    """Per call: the earlier calls it depends on, and its depth (1 + deepest dependency).

    :param depends_on: for each call, the indices of the earlier calls it depends on.
    :param depth: for each call, the length of the longest chain ending at it.
    """

    depends_on: tuple[frozenset[int], ...]
    depth: tuple[int, ...]

    @classmethod
    def build(cls, accesses: Iterable[tuple[Iterable[bytes], Iterable[bytes]]]) -> DependencyGraph:
        """Build from ``(keys read, keys written)`` per call, in block order."""
        last_writer: dict[bytes, int] = {}
        depends: list[frozenset[int]] = []
        depth: list[int] = []
        for j, (reads, writes) in enumerate(accesses):
            written = set(writes)
            deps = frozenset(last_writer[k] for k in (*reads, *written) if k in last_writer)
            depends.append(deps)
            depth.append(1 + max((depth[i] for i in deps), default=0))
            for k in written:
                last_writer[k] = j
        return cls(tuple(depends), tuple(depth))

    def longest_chain(self) -> int:
        """The number of calls on the longest dependency chain (0 for an empty block)."""
        return max(self.depth, default=0)

    def parallelism(self) -> float:
        """Calls divided by the longest chain: the speed-up an ideal scheduler could reach."""
        chain = self.longest_chain()
        return len(self.depth) / chain if chain else 0.0

    def waves(self) -> list[list[int]]:
        """Calls grouped so that each group depends only on earlier groups."""
        groups: dict[int, list[int]] = {}
        for j, d in enumerate(self.depth):
            groups.setdefault(d, []).append(j)
        return [groups[d] for d in sorted(groups)]


def from_results(results: Sequence[object]) -> DependencyGraph:
    """The graph of an executed block, from its results' read and write sets."""
    return DependencyGraph.build(
        (r.read_set, r.write_set)  # type: ignore[attr-defined]
        for r in results
    )
