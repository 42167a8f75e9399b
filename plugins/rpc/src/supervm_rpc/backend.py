"""What the method handlers share: the node's chain, events, pool and config, the server's
filters and subscriptions, and how a block reference becomes a header.

The RPC service stores one :class:`RpcBackend` in the stash under :data:`BACKEND` when it starts;
handlers read it from their context (``context.stash[BACKEND]``), so a plugin adding methods
through ``supervm_register_rpc_methods`` may use it too.
"""

from __future__ import annotations

import collections
from contextvars import ContextVar
from typing import Final

import attrs
from supervm.chain.blocks import Block, BlockHeader
from supervm.chain.receipts import Receipt
from supervm.node.access import HistoricalStateError, NodeChain
from supervm.node.config import NodeConfig
from supervm.node.events import ChainEvents, NewBlock
from supervm.node.keys import POOL
from supervm.node.pool import TransactionPoolService
from supervm.services.rpc import RpcError
from supervm.services.service import ServiceContext, StashKey
from supervm.state.world import WorldState

from .automine import Inclusions
from .filters import SERVER_ERROR, FilterManager, Subscriber, SubscriptionHub
from .params import BlockRef

#: How many decoded blocks (with receipts) the server keeps: blocks are immutable by hash.
RECENT_BLOCKS: Final = 16


@attrs.define
class RpcBackend:
    """The node as the RPC methods see it."""

    context: ServiceContext
    node: NodeChain
    events: ChainEvents
    config: NodeConfig
    filters: FilterManager
    subscriptions: SubscriptionHub
    _recent: collections.OrderedDict[bytes, tuple[Block, tuple[Receipt, ...]]] = attrs.field(
        factory=collections.OrderedDict, init=False
    )
    _inclusions: Inclusions | None = attrs.field(default=None, init=False)

    def inclusions(self) -> Inclusions:
        """The sends waiting for their blocks (automining), made on first use."""
        if self._inclusions is None:

            def pooled(tx_hash: bytes) -> bool:
                pool = self.pool
                return pool is not None and pool.get(tx_hash) is not None

            self._inclusions = Inclusions(self.events, pooled)
        return self._inclusions

    @property
    def chain_id(self) -> int:
        """The chain's id."""
        return self.node.chain_id

    @property
    def pool(self) -> TransactionPoolService | None:
        """The transaction pool, if a plugin provides one (looked up each time: the pool's
        service may be disabled)."""
        return self.context.stash.get(POOL)

    def require_pool(self) -> TransactionPoolService:
        """The pool, or the error a client gets when the node runs without one."""
        pool = self.pool
        if pool is None:
            raise RpcError(
                SERVER_ERROR,
                "this node has no transaction pool (the mempool plugin is disabled): it "
                "accepts no transactions",
            )
        return pool

    # -- blocks -------------------------------------------------------------------------------

    def header(self, ref: BlockRef) -> BlockHeader | None:
        """The header ``ref`` names, or ``None`` if the chain has no such block.

        ``pending`` is the head (SuperVM shows no pending block); ``safe`` and ``finalized``
        are the newest block the consensus engine calls final.

        :raises RpcError: for a hash that is not canonical when ``requireCanonical`` is set.
        """
        store = self.node.store
        if ref.hash is not None:
            header = store.header(ref.hash)
            if (
                header is not None
                and ref.require_canonical
                and store.canonical_hash(header.number) != header.hash
            ):
                raise RpcError(SERVER_ERROR, f"hash 0x{ref.hash.hex()} is not canonical")
            return header
        if ref.number is not None:
            head = self.node.head
            if ref.number == head.number:
                return head
            return store.header_by_number(ref.number)
        tag = ref.tag
        if tag in ("latest", "pending", None):
            return self.node.head
        if tag == "earliest":
            return store.header_by_number(0)
        return self.finalized()

    def finalized(self) -> BlockHeader:
        """The newest block the consensus engine considers final (genesis at least).

        Finality is monotone (a final block's ancestors are final), so a binary search finds it
        in a few header reads however long the chain.
        """
        node = self.node
        head = node.head
        consensus = node.chain.consensus
        store = node.store
        if consensus.is_final(head, head, chain=store):
            return head
        low, high = 0, head.number  # low is final (genesis), high is not
        while low + 1 < high:
            mid = (low + high) // 2
            header = store.header_by_number(mid)
            if header is not None and consensus.is_final(header, head, chain=store):
                low = mid
            else:
                high = mid
        found = store.header_by_number(low)
        assert found is not None
        return found

    def number(self, ref: BlockRef) -> int:
        """The block number ``ref`` stands for (a number past the head is kept as it is)."""
        if ref.number is not None:
            return ref.number
        header = self.header(ref)
        if header is None:
            raise header_not_found()
        return header.number

    def remember(self, new: NewBlock) -> None:
        """Keep a new head's block and receipts decoded (senders known), for the receipts and
        transactions clients ask for right after a block: decoding a full block again for each
        of its receipts would cost more than building it."""
        self._recent[new.block.header.hash] = (new.block, tuple(new.receipts))
        while len(self._recent) > RECENT_BLOCKS:
            self._recent.popitem(last=False)

    def block(self, header: BlockHeader) -> Block:
        """The block of a stored header."""
        return self.block_and_receipts(header)[0]

    def block_and_receipts(self, header: BlockHeader) -> tuple[Block, tuple[Receipt, ...]]:
        """The block of a stored header and its receipts."""
        block_hash = header.hash
        found = self._recent.get(block_hash)
        if found is not None:
            return found
        store = self.node.store
        block = store.block(block_hash)
        receipts = store.receipts(block_hash)
        if block is None or receipts is None:
            raise RpcError(SERVER_ERROR, f"block 0x{block_hash.hex()} has no stored body")
        found = (block, tuple(receipts))
        self._recent[block_hash] = found
        while len(self._recent) > RECENT_BLOCKS:
            self._recent.popitem(last=False)
        return found

    def state(self, ref: BlockRef) -> WorldState:
        """The state after block ``ref`` (an earlier block's through its tries).

        :raises RpcError: -32000 "header not found", or the historical-state message.
        """
        header = self.header(ref)
        if header is None:
            raise header_not_found()
        try:
            return self.node.state(header)
        except HistoricalStateError as exc:
            raise RpcError(SERVER_ERROR, str(exc)) from None

    def state_header(self, ref: BlockRef) -> BlockHeader:
        """The header of ``ref``, whose state must be readable."""
        header = self.header(ref)
        if header is None:
            raise header_not_found()
        try:
            self.node.state(header)
        except HistoricalStateError as exc:
            raise RpcError(SERVER_ERROR, str(exc)) from None
        return header


def header_not_found() -> RpcError:
    """geth's answer for a block the chain does not have, where a state is needed."""
    return RpcError(SERVER_ERROR, "header not found")


#: Where the RPC service keeps its :class:`RpcBackend`.
BACKEND: Final = StashKey[RpcBackend]("rpc backend")

#: The WebSocket connection whose message is being handled (``None`` over HTTP): how
#: ``eth_subscribe`` finds whom to notify without a parameter the registry's handlers lack.
CONNECTION: Final = ContextVar[Subscriber | None]("supervm_rpc_connection", default=None)
