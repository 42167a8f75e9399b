"""New blocks and pending transactions as they happen, for subscriptions and filters.

The block producer (or an importer) publishes each block once it is committed, and with the
first block of a reorg's new branch the blocks the reorg removed; the pool
publishes each transaction it accepts. Listeners are plain callables called in the event loop's
thread, in the order they were added; one that raises is logged and removed, so a broken
subscriber cannot stop the chain. Publishing from another thread goes through
:meth:`ChainEvents.publish_block_threadsafe`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

import attrs

from supervm.chain.blocks import Block
from supervm.chain.receipts import Receipt

log = logging.getLogger("supervm.node.events")

T = TypeVar("T")


@attrs.frozen
class NewBlock:
    """A block that became canonical, with its receipts (in transaction order).

    When the head moves by several blocks (a sync, a reorg) each block now canonical is
    published, lowest first. When a reorg took blocks off the canonical chain, the first
    block published for it carries them in ``removed`` and the others carry none: listeners
    that follow logs report those blocks' logs as removed (``"removed": true``) before the new
    branch's, as geth does.

    :param block: the block.
    :param receipts: its receipts.
    :param removed: the blocks the reorg took off the canonical chain, highest first (the old
        head first), each with its receipts; empty unless a reorg.
    """

    block: Block
    receipts: tuple[Receipt, ...]
    removed: tuple[NewBlock, ...] = ()


class _Listeners(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[int, Callable[[T], None]] = {}
        self._next = 0

    def add(self, listener: Callable[[T], None]) -> Callable[[], None]:
        key = self._next
        self._next += 1
        self._items[key] = listener
        return lambda: self._items.pop(key, None) and None

    def publish(self, value: T) -> None:
        for key, listener in list(self._items.items()):
            try:
                listener(value)
            except Exception:
                log.exception("a %s listener failed and was removed", self.kind)
                self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


class ChainEvents:
    """Fan-out of a node's chain events to its listeners.

    ``on_block(listener)`` and ``on_pending(listener)`` return a function that removes the
    listener again.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._blocks = _Listeners[NewBlock]("block")
        self._pending = _Listeners[bytes]("pending transaction")
        self._pending_arrived = asyncio.Event()

    def on_block(self, listener: Callable[[NewBlock], None]) -> Callable[[], None]:
        """Call ``listener`` with every new head."""
        return self._blocks.add(listener)

    def on_pending(self, listener: Callable[[bytes], None]) -> Callable[[], None]:
        """Call ``listener`` with the hash of every transaction the pool accepts."""
        return self._pending.add(listener)

    def publish_block(self, new: NewBlock) -> None:
        """Tell the listeners about a new head (from the event loop's thread)."""
        self._blocks.publish(new)

    def publish_block_threadsafe(self, new: NewBlock) -> None:
        """:meth:`publish_block` from another thread, through the loop given at construction."""
        if self._loop is None:
            raise RuntimeError("ChainEvents was made without an event loop")
        self._loop.call_soon_threadsafe(self._blocks.publish, new)

    def publish_pending(self, tx_hash: bytes) -> None:
        """Tell the listeners about a transaction the pool accepted, and wake the producer."""
        self._pending.publish(tx_hash)
        self._pending_arrived.set()

    async def wait_for_pending(self) -> None:
        """Wait until a transaction has been published since the last wait returned."""
        await self._pending_arrived.wait()
        self._pending_arrived.clear()
