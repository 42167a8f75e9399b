"""Side chains and reorgs: where two branches meet, and what moving the head to another one
rewrites.

Every valid block is stored, whichever branch it is on; the canonical chain is what the head's
ancestors are. When the consensus engine's fork choice prefers a block on another branch, the
head moves there in **one** storage batch (:func:`reorg_changes`): the canonical number index
from the common ancestor up, the transaction index (entries of the blocks taken off removed,
those of the blocks put on added), the head, and the flat world state. The flat state is
rewritten key by key for the keys either branch changed since the ancestor (each block keeps
the list, ``ChainStore.touched_keys``), with the values of the new head's state read through
its state root's tries (:class:`~supervm.state.historical.HistoricalStorage`): every block's
trie nodes are stored, so no undo log is needed. ``docs/chain.md`` says why, with figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Final, Literal

import attrs

from supervm.chain.blocks import Block, BlockHeader
from supervm.chain.receipts import Receipt
from supervm.chain.store import ChainStore
from supervm.errors import SuperVMError
from supervm.state.commitment import TRIE_NODE_PREFIX
from supervm.state.historical import HistoricalStorage
from supervm.state.keys import CHAIN_DATA_START, CODE_PREFIX
from supervm.state.root import StateRoot
from supervm.state.storage import Change, Storage

#: :attr:`ImportOutcome.status` of a block that became the head (extending it or by a reorg).
HEAD: Final = "head"
#: ... of a block stored on a side chain: valid, but fork choice keeps the current head.
SIDE: Final = "side"
#: ... of a block the chain already had: nothing was done.
KNOWN: Final = "known"
Status = Literal["head", "side", "known"]


class ForkError(SuperVMError):
    """Two blocks whose histories cannot be compared (an ancestor is missing)."""


@attrs.frozen
class ChainBlock:
    """A block with its receipts, in transaction order."""

    block: Block
    receipts: tuple[Receipt, ...]


@attrs.frozen
class HeadChange:
    """The head moved: to a child of the old head, or to another branch (a reorg).

    :param old_head: the head before.
    :param new_head: the head now.
    :param ancestor: the newest block both heads' chains share (the old head itself when the
        new head descends from it).
    :param removed: the blocks no longer canonical, lowest first (empty unless a reorg); their
        logs are gone from the chain (``removed: true`` for log subscribers) and their
        transactions, unless the new branch holds them too, are pending again.
    :param added: the blocks now canonical above ``ancestor``, lowest first; the last is the
        new head.
    """

    old_head: BlockHeader
    new_head: BlockHeader
    ancestor: BlockHeader
    removed: tuple[ChainBlock, ...]
    added: tuple[ChainBlock, ...]

    @property
    def is_reorg(self) -> bool:
        """Whether canonical blocks were taken off the chain."""
        return bool(self.removed)


@attrs.frozen
class ImportOutcome:
    """What importing (or building) one block did.

    :param block: the block.
    :param receipts: its receipts.
    :param status: :data:`HEAD`, :data:`SIDE` or :data:`KNOWN`.
    :param head_change: how the head moved, if it did.
    """

    block: Block
    receipts: tuple[Receipt, ...]
    status: Status
    head_change: HeadChange | None = None


def parent_of(store: ChainStore, header: BlockHeader) -> BlockHeader:
    """The stored parent of ``header``.

    :raises ForkError: if it is not stored.
    """
    parent = store.header(header.parent_hash)
    if parent is None:
        raise ForkError(
            f"block {header.number}: its parent 0x{header.parent_hash.hex()} is not stored"
        )
    return parent


def common_ancestor(store: ChainStore, a: BlockHeader, b: BlockHeader) -> BlockHeader:
    """The newest block that is ``a`` or an ancestor of it and ``b`` or an ancestor of it.

    Costs one header read per block above the ancestor on either side. ``a`` and ``b``
    themselves need not be stored, their ancestors must.

    :raises ForkError: if an ancestor is missing or the two share no genesis.
    """
    while a.number > b.number:
        a = parent_of(store, a)
    while b.number > a.number:
        b = parent_of(store, b)
    while a.hash != b.hash:
        if a.number == 0:
            raise ForkError("the two blocks have different genesis blocks")
        a, b = parent_of(store, a), parent_of(store, b)
    return a


def branch(store: ChainStore, ancestor: BlockHeader, tip: BlockHeader) -> list[BlockHeader]:
    """The headers from just above ``ancestor`` up to ``tip``, lowest first (``tip`` itself
    need not be stored)."""
    headers: list[BlockHeader] = []
    current = tip
    while current.number > ancestor.number:
        headers.append(current)
        current = parent_of(store, current)
    if current.hash != ancestor.hash:
        raise ForkError(f"block {tip.number} does not descend from block {ancestor.number}")
    headers.reverse()
    return headers


def is_state_key(key: bytes) -> bool:
    """Whether a changed key is world state a reorg must rewrite: not chain data, and not code
    (stored once by its hash and never removed, so a side chain's code may stay)."""
    return key < CHAIN_DATA_START and key[:1] != CODE_PREFIX


def code_changes(changes: Iterable[Change]) -> list[Change]:
    """The code entries among a block's changes: written for side blocks too (content
    addressed, harmless to the canonical state, and read by any branch's later blocks)."""
    return [(k, v) for k, v in changes if k[:1] == CODE_PREFIX and v is not None]


class PendingStorage(Storage):
    """Reads ``pending`` (entries of a batch not written yet) over ``storage``; read-only."""

    def __init__(self, pending: Mapping[bytes, bytes | None], storage: Storage) -> None:
        self._pending = pending
        self._storage = storage

    def get(self, key: bytes) -> bytes | None:
        if key in self._pending:
            return self._pending[key]
        return self._storage.get(key)

    def iterate(
        self, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        raise NotImplementedError("a pending view is read key by key")

    def write_batch(self, changes: Iterable[Change]) -> None:
        raise NotImplementedError("a pending view is read-only")


def reorg_changes(
    store: ChainStore,
    storage: Storage,
    *,
    ancestor: BlockHeader,
    removed: list[Block],
    added: list[Block],
    new_changes: list[Change],
    new_nodes: Mapping[bytes, bytes],
) -> list[Change]:
    """The batch entries that move the canonical chain from ``removed`` to ``added`` (both
    lowest first, above ``ancestor``), without the new head block's own entries.

    :param added: ends with the new head, which is not stored yet; the others are.
    :param new_changes: the new head's own world-state changes (values after it).
    :param new_nodes: the new head's trie nodes, not written yet.
    :raises ForkError: if a block on either branch has no changed-keys record (stored before
        the chain kept them).
    """
    head = added[-1].header
    keys: set[bytes] = set()
    for block in [*removed, *added[:-1]]:
        touched = store.touched_keys(block.header.hash)
        if touched is None:
            raise ForkError(
                f"block {block.header.number} (0x{block.header.hash.hex()}) was stored before "
                "the chain recorded the keys each block changes: the chain cannot reorganise "
                "past it"
            )
        keys.update(touched)
    own = {k: v for k, v in new_changes if is_state_key(k)}
    pending: dict[bytes, bytes | None] = {TRIE_NODE_PREFIX + h: n for h, n in new_nodes.items()}
    pending.update((k, v) for k, v in new_changes if k[:1] == CODE_PREFIX)
    view = PendingStorage(pending, storage)

    def get_node(node_hash: bytes) -> bytes | None:
        return view.get(TRIE_NODE_PREFIX + node_hash)

    state = HistoricalStorage(StateRoot(head.state_root, get_node), view)
    batch: list[Change] = [(k, state.get(k)) for k in sorted(keys - own.keys())]
    batch += own.items()
    # The index: heights from the ancestor up get the new branch's hashes; heights above the
    # new head (a longer old branch) lose theirs. Transactions of removed blocks are unindexed
    # first, so one the new branch holds too ends up pointing at its new block.
    index: dict[bytes, bytes | None] = {}
    for block in removed:
        index.update(store.index_changes(block, remove=True))
    for block in added:
        index.update(store.index_changes(block))
    batch += index.items()
    for block in added:
        batch.append(store.canonical_change(block.header.number, block.header.hash))
    top = removed[-1].header.number if removed else ancestor.number
    for number in range(head.number + 1, top + 1):
        batch.append(store.canonical_change(number, None))
    batch.append(store.head_change(head.hash))
    return batch
