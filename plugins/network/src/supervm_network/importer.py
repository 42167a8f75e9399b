"""Blocks from the network into the chain: one importer for gossip and sync alike.

Every block goes through the chain core's importer (re-execution, roots, receipts and seal
checked) in the node's one writer thread (:meth:`~supervm.node.access.NodeChain.write`), a
range of blocks in one call. Afterwards, in the event loop, the pool drops what the blocks
included and the node's listeners (subscriptions, filters, the block announcer) hear of each
new head, as they do for a block the node sealed; after a reorg the first block of the new
branch carries the blocks it removed (:attr:`~supervm.node.events.NewBlock.removed`), so log
filters report their logs removed.

Where a block may go depends on what the chain core can do. A chain whose ``insert_block``
takes a block whose parent is any stored block (and moves the head by the engine's fork
choice) gets every block whose parent is known; a chain that only extends its head gets only
the blocks that do, and the others are left to the sync, which fetches the canonical chain of
the best peer. :func:`placement` is the one place that decides.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from typing import Any

import attrs
from supervm.chain.blocks import Block, BlockHeader, decode_block
from supervm.chain.chain import BlockImportError, Chain
from supervm.chain.forks import ChainBlock
from supervm.chain.receipts import Receipt
from supervm.errors import SuperVMError
from supervm.node.access import NodeChain
from supervm.node.events import ChainEvents
from supervm.node.head_moves import follow_head_change
from supervm.node.keys import POOL
from supervm.services.metrics import Metrics
from supervm.services.service import Stash

log = logging.getLogger("supervm.network.import")


class Placement(enum.Enum):
    """Where a block would go in the chain as it is now."""

    #: The chain has it.
    KNOWN = "known"
    #: Its parent is the head.
    EXTENDS_HEAD = "extends head"
    #: Its parent is stored but is not the head: a side chain (importable only by a chain
    #: that takes side chains).
    SIDE = "side"
    #: Its parent is not stored: fetch the chain below it first.
    UNKNOWN_PARENT = "unknown parent"


def takes_side_chains(chain: Chain) -> bool:
    """Whether ``chain`` imports a block whose parent is any stored block (``insert_block``,
    with fork choice), not only a child of its head."""
    return callable(getattr(chain, "insert_block", None))


def placement(chain: Chain, header: BlockHeader) -> Placement:
    """Where ``header``'s block would go in ``chain`` now."""
    store = chain.store
    if store.header(header.hash) is not None:
        return Placement.KNOWN
    if header.parent_hash == chain.head.hash:
        return Placement.EXTENDS_HEAD
    if store.header(header.parent_hash) is not None:
        return Placement.SIDE
    return Placement.UNKNOWN_PARENT


@attrs.frozen
class Imported:
    """A block the chain took: the head moved to it, or it went to a side chain."""

    block: Block
    receipts: tuple[Receipt, ...]
    #: The blocks that became canonical with it, lowest first (itself when it extends the
    #: head; several after a reorg; none for a side block).
    added: tuple[ChainBlock, ...]
    #: The blocks taken off the canonical chain by a reorg, lowest first, with their receipts.
    removed: tuple[ChainBlock, ...] = ()


@attrs.frozen
class ImportResult:
    """What importing a range of blocks did.

    :param imported: the blocks the chain took, in order.
    :param skipped: blocks left out: known already, or not importable here now (a side
        block on a chain without side chains, a block whose parent is missing).
    :param failed: the first block that was invalid, with the chain's reason; the blocks
        after it were not tried.
    :param unknown_parent: whether a block's parent was missing (a sync can fetch it).
    """

    imported: tuple[Imported, ...] = ()
    skipped: int = 0
    failed: tuple[BlockHeader | None, str] | None = None
    unknown_parent: bool = False


def _import_all(chain: Chain, blocks: Sequence[Block | bytes]) -> ImportResult:
    """In the writer thread: import ``blocks`` in order until one fails."""
    imported: list[Imported] = []
    skipped = 0
    side_chains = takes_side_chains(chain)
    for item in blocks:
        try:
            block = (
                decode_block(item, recover=False, chain_id=chain.chain_id)
                if isinstance(item, bytes)
                else item
            )
        except SuperVMError as exc:
            return ImportResult(tuple(imported), skipped, (None, f"undecodable block: {exc}"))
        where = placement(chain, block.header)
        if where is Placement.KNOWN:
            skipped += 1
            continue
        if where is Placement.UNKNOWN_PARENT:
            return ImportResult(tuple(imported), skipped, None, True)
        if where is Placement.SIDE and not side_chains:
            skipped += 1
            continue
        raw = item if isinstance(item, bytes) else block
        try:
            if side_chains:
                imported.append(_outcome(block, chain.insert_block(raw)))
            else:
                receipts = chain.import_block(raw)
                imported.append(Imported(block, receipts, (ChainBlock(block, receipts),)))
        except BlockImportError as exc:
            if type(exc).__name__ == "UnknownParentError":
                return ImportResult(tuple(imported), skipped, None, True)
            return ImportResult(tuple(imported), skipped, (block.header, str(exc)))
    return ImportResult(tuple(imported), skipped)


def _outcome(block: Block, outcome: Any) -> Imported:
    """An :class:`Imported` from the chain core's ``ImportOutcome``."""
    change = getattr(outcome, "head_change", None)
    if change is None:
        return Imported(block, tuple(outcome.receipts), ())
    return Imported(block, tuple(outcome.receipts), change.added, change.removed)


class BlockImporter:
    """Imports blocks into a node's chain and tells the node's other services.

    :param node: the chain, written through its writer thread.
    :param events: where each new head is published.
    :param stash: where the pool is found (looked up each time: it may be absent).
    :param metrics: ``chain_head_block`` and ``p2p_blocks_imported_total``.
    """

    def __init__(self, node: NodeChain, events: ChainEvents, stash: Stash, metrics: Metrics):
        self.node = node
        self.events = events
        self.stash = stash
        self.metrics = metrics
        #: Hashes of blocks that reached the chain from the network (not to announce again).
        self.from_network: set[bytes] = set()

    async def import_blocks(self, blocks: Sequence[Block | bytes]) -> ImportResult:
        """Import ``blocks`` (decoded, or as their encodings) in order, in the writer thread.

        Never raises for an invalid block: the result says which one failed and why.
        """
        if not blocks:
            return ImportResult()

        def work(chain: Chain) -> ImportResult:
            return _import_all(chain, blocks)

        result = await self.node.write(work)
        self._announce(result.imported)
        if result.failed is not None:
            header, reason = result.failed
            log.warning(
                "refused block %s from the network: %s",
                header.number if header is not None else "?",
                reason,
                extra={"fields": {"event": "block_refused", "reason": reason}},
            )
        return result

    def _announce(self, imported: Sequence[Imported]) -> None:
        if not imported:
            return
        for item in imported:
            # Before the events: gossip does not announce again what came from the network.
            self.from_network.update(c.block.hash for c in item.added)
            follow_head_change(
                item.added, item.removed, node=self.node, pool=self.stash.get(POOL),
                events=self.events,
            )  # fmt: skip
            self.metrics.inc("p2p_blocks_imported_total", len(item.added))
        head = self.node.head
        self.metrics.set("chain_head_block", head.number)
        if len(self.from_network) > 4096:
            self.from_network.clear()
        last = imported[-1].block.header
        log.info(
            "imported %d block%s up to %d, head %d",
            len(imported),
            "" if len(imported) == 1 else "s",
            last.number,
            head.number,
            extra={
                "fields": {
                    "event": "blocks_imported",
                    "count": len(imported),
                    "number": last.number,
                    "hash": "0x" + last.hash.hex(),
                    "head": head.number,
                }
            },
        )
