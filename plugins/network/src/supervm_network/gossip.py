"""Gossip of transactions and blocks: what is relayed, after which check, and what is announced.

**Transactions.** A transaction message is a batch. Each new transaction in it is offered to the
pool (``submit(..., local=False)``); the message itself is never relayed. Instead every
transaction the pool admits, from a client or from a peer, is announced by this node in its own
batches (:meth:`Gossip.run_announcer`, at most :data:`~.codec.MAX_TX_BATCH` a message, a batch
every :data:`BATCH_SECONDS`), so a transaction travels only once a pool took it. A message that
does not decode, or holds a transaction with a bad signature or another chain's id, costs its
sender :attr:`~.scoring.Offence.GARBAGE`; one the pool refuses for its own reasons (nonce too
low, underpriced, already known) costs nothing: another pool may have had another view.

**Blocks.** A block message is relayed once its header's seal checks out against its parent
with the consensus engine, before it is executed; it is then imported (re-executed) and a block
that fails costs its sender :attr:`~.scoring.Offence.RELAYED_INVALID_BLOCK` (an honest peer
relays it too, having checked only the seal), a bad seal :attr:`~.scoring.Offence.BAD_SEAL`.
A block whose parent is unknown (the node is behind) is not
relayed: the node cannot check its seal, and the sync fetches it. The node announces the blocks
it seals; those it imported from gossip were relayed already, those from a sync are old news.

Duplicates are suppressed twice: the transport drops a message whose content it has seen
(ids are content hashes), and :class:`Gossip` remembers recent transaction and block hashes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from supervm.chain.blocks import Block, BlockHeader, encode_block, transaction_encoding
from supervm.errors import SuperVMError
from supervm.node.access import NodeChain
from supervm.node.events import ChainEvents, NewBlock
from supervm.node.keys import POOL
from supervm.node.pool import PoolRejected
from supervm.services.service import Stash

from . import codec
from .codec import MessageError
from .importer import BlockImporter, Placement, placement
from .network import InvalidMessage, Network
from .scoring import Offence, SeenSet
from .transport import BLOCKS_TOPIC, TX_TOPIC

log = logging.getLogger("supervm.network.gossip")

#: Seconds the announcer waits for more admitted transactions before it sends a batch.
BATCH_SECONDS: Final = 0.02
#: Transaction and block hashes remembered for duplicate suppression.
SEEN_TRANSACTIONS: Final = 65_536
SEEN_BLOCKS: Final = 4096


class Gossip:
    """The node's transaction and block gossip; see the module docstring.

    :param network: peers and scores.
    :param node: the chain.
    :param events: the node's events (the pool's admissions, new heads).
    :param stash: where the pool is found.
    :param importer: imports the blocks that arrive.
    :param behind: called with a peer and a block number above the head that the peer has
        (the sync takes it from there).
    """

    def __init__(
        self,
        network: Network,
        node: NodeChain,
        events: ChainEvents,
        stash: Stash,
        importer: BlockImporter,
        behind: Callable[[str, int], None],
    ) -> None:
        self.network = network
        self.node = node
        self.events = events
        self.stash = stash
        self.importer = importer
        self.behind = behind
        self.seen_transactions = SeenSet(SEEN_TRANSACTIONS)
        self.seen_blocks = SeenSet(SEEN_BLOCKS)
        self._pending: list[bytes] = []
        self._pending_arrived = asyncio.Event()
        self._blocks: asyncio.Queue[tuple[str, Block]] = asyncio.Queue()
        self._queued: dict[bytes, BlockHeader] = {}
        self._unlisten: list[Callable[[], None]] = []

    def listen(self) -> None:
        """Follow the pool's admissions and the node's new heads."""
        self._unlisten = [
            self.events.on_pending(self._admitted),
            self.events.on_block(self._new_head),
        ]

    def close(self) -> None:
        """Stop following them."""
        for unlisten in self._unlisten:
            unlisten()
        self._unlisten = []

    # -- transactions ---------------------------------------------------------------------------

    def on_transactions(self, peer_id: str, payload: bytes) -> None:
        """A transaction message from ``peer_id``: offer its new transactions to the pool.

        :raises InvalidMessage: if it does not decode (or holds a badly signed transaction).
        """
        try:
            txs = codec.decode_transactions(payload, chain_id=self.node.chain_id)
        except MessageError as exc:
            raise InvalidMessage(Offence.GARBAGE, str(exc)) from None
        pool = self.stash.get(POOL)
        for tx in txs:
            if not self.seen_transactions.add(tx.hash):
                continue
            if pool is None:
                continue
            try:
                pool.submit(tx, local=False)
            except PoolRejected as exc:
                log.debug("transaction 0x%s from %s refused: %s", tx.hash.hex(), peer_id, exc)

    def _admitted(self, tx_hash: bytes) -> None:
        self.seen_transactions.add(tx_hash)
        self._pending.append(tx_hash)
        self._pending_arrived.set()

    async def run_announcer(self) -> None:
        """Publish the pool's admitted transactions in batches, as long as it runs."""
        while True:
            await self._pending_arrived.wait()
            await asyncio.sleep(BATCH_SECONDS)
            self._pending_arrived.clear()
            hashes, self._pending = self._pending, []
            pool = self.stash.get(POOL)
            if pool is None:
                continue
            encodings = []
            for tx_hash in hashes:
                tx = pool.get(tx_hash)
                if tx is not None:  # already sealed and dropped, or replaced
                    encodings.append(transaction_encoding(tx))
            for start in range(0, len(encodings), codec.MAX_TX_BATCH):
                batch = encodings[start : start + codec.MAX_TX_BATCH]
                await self.network.publish(TX_TOPIC, codec.encode_transactions(batch))

    # -- blocks ---------------------------------------------------------------------------------

    def on_block(self, peer_id: str, payload: bytes) -> bool:
        """A block message from ``peer_id``; return whether to relay it (its seal checked
        out), having queued it for import.

        :raises InvalidMessage: if it does not decode or its seal does not check out.
        """
        try:
            block = codec.decode_gossip_block(payload, chain_id=self.node.chain_id)
        except MessageError as exc:
            raise InvalidMessage(Offence.GARBAGE, str(exc)) from None
        header = block.header
        if header.hash in self.seen_blocks:
            return False
        chain = self.node.chain
        where = placement(chain, header)
        if where is Placement.KNOWN:
            self.seen_blocks.add(header.hash)
            return False
        # A parent still waiting in the import queue counts as known: blocks sealed in quick
        # succession arrive faster than they import.
        parent = self._queued.get(header.parent_hash)
        if parent is None and where is Placement.UNKNOWN_PARENT:
            self.behind(peer_id, header.number)
            return False
        parent = parent or self.node.store.header(header.parent_hash)
        assert parent is not None  # placement said it is stored
        try:
            chain.consensus.verify_seal(header, parent, chain=_Queued(self._queued, self.node))
        except SuperVMError as exc:
            raise InvalidMessage(Offence.BAD_SEAL, f"block {header.number}: {exc}") from None
        self.seen_blocks.add(header.hash)
        self._queued[header.hash] = header
        self._blocks.put_nowait((peer_id, block))
        return True

    async def run_importer(self) -> None:
        """Import the blocks gossip queued, one at a time, as long as it runs."""
        while True:
            peer_id, block = await self._blocks.get()
            try:
                result = await self.importer.import_blocks([block])
            finally:
                self._queued.pop(block.hash, None)
            if result.failed is not None:
                _header, reason = result.failed
                await self.network.penalise(peer_id, Offence.RELAYED_INVALID_BLOCK, reason)
            elif (result.unknown_parent or (result.skipped and not result.imported)) and (
                block.header.number > self.node.head.number
            ):
                # Its parent is gone from under it (a reorg) or it sits on a branch this chain
                # cannot take: the sync settles which chain is the peer's.
                self.behind(peer_id, block.header.number)

    def _new_head(self, new: NewBlock) -> None:
        block = new.block
        self.seen_blocks.add(block.hash)
        if block.hash in self.importer.from_network:
            return
        self.network.context.spawn(
            self.network.publish(BLOCKS_TOPIC, encode_block(block)), name="network-announce-block"
        )


class _Queued:
    """Headers read from the import queue first, then from the chain."""

    def __init__(self, queued: dict[bytes, BlockHeader], node: NodeChain) -> None:
        self._queued = queued
        self._store = node.store

    def header(self, block_hash: bytes) -> BlockHeader | None:
        return self._queued.get(block_hash) or self._store.header(block_hash)
