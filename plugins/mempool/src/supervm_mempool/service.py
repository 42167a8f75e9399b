"""The ``txpool`` service: a :class:`~supervm_mempool.pool.TransactionPool` serving a node.

It adapts the pool to the kernel's :class:`~supervm.node.pool.TransactionPoolService` (checking
each transaction against the head state and the next block's environment), stores it in the
stash under :data:`~supervm.node.keys.POOL`, publishes accepted transactions to the node's
:class:`~supervm.node.events.ChainEvents` (which wakes the block producer), and keeps the
``txpool_*`` metrics.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

from supervm.chain.blocks import Block
from supervm.chain.transactions import Transaction
from supervm.errors import CallError
from supervm.execution.wasm_binary import MAGIC as WASM_MAGIC
from supervm.node.access import NodeChain
from supervm.node.events import ChainEvents
from supervm.node.keys import CHAIN, EVENTS, POOL
from supervm.node.pool import PoolRejected, TransactionPoolService
from supervm.services.metrics import Metrics
from supervm.services.service import Service, ServiceContext
from supervm.state.world import WorldState

from .pool import PoolError, TransactionPool

#: Counting pending and queued transactions walks the pool: on submission, refresh the gauges at
#: most this often (seconds), so that a burst of submissions does not pay for it every time.
GAUGE_INTERVAL: Final = 0.25


class NodePool(TransactionPoolService):
    """A pool checked against a node's head.

    :param pool: the transactions.
    :param node: the chain whose head state and next block the pool checks against.
    :param events: where accepted transactions are announced.
    :param metrics: where ``txpool_pending``, ``txpool_queued`` and ``txpool_rejected_total``
        are recorded.
    """

    def __init__(
        self, pool: TransactionPool, node: NodeChain, events: ChainEvents, metrics: Metrics
    ) -> None:
        self.pool = pool
        self.node = node
        self.events = events
        self.metrics = metrics
        self._dispatcher = node.chain.kernel.dispatcher()
        self._recorded_at = 0.0

    def submit(self, tx: Transaction, *, local: bool = True) -> bytes:
        if tx.to is None and not tx.data.startswith(WASM_MAGIC):
            self._refuse_unrunnable(tx.data)
        env = self.node.next_env()
        try:
            result = self.pool.add(
                tx,
                self.node.state(),
                base_fee=env.base_fee,
                chain_id=self.node.chain_id,
                local=local,
                env=env,
            )
        except PoolError as exc:
            self.metrics.inc("txpool_rejected_total")
            raise PoolRejected(str(exc)) from None
        if time.monotonic() - self._recorded_at >= GAUGE_INTERVAL:
            self._record()
        self.events.publish_pending(result.hash)
        return result.hash

    def _refuse_unrunnable(self, code: bytes) -> None:
        """A create whose code no enabled backend runs (EVM bytecode before the EVM backend)
        would only fail in a block and burn its gas: refuse it with the reason instead."""
        try:
            self._dispatcher.backend_for(code)
        except CallError as exc:
            self.metrics.inc("txpool_rejected_total")
            raise PoolRejected(f"contract code cannot run on this node: {exc}") from None

    def remove(self, tx_hash: bytes) -> Transaction | None:
        removed = self.pool.remove(tx_hash)
        self._record()
        return removed

    def get(self, tx_hash: bytes) -> Transaction | None:
        return self.pool.get(tx_hash)

    def pending_nonce(self, sender: bytes) -> int:
        return self.pool.pending_nonce(sender, self.node.state().nonce(sender))

    def pending(self, base_fee: int) -> list[Transaction]:
        return self.pool.pending(base_fee)

    def content(self) -> tuple[dict[bytes, list[Transaction]], dict[bytes, list[Transaction]]]:
        return self.pool.pending_by_sender(), self.pool.queued_by_sender()

    def stats(self) -> tuple[int, int]:
        return self.pool.stats()

    def block_added(self, block: Block, state: WorldState) -> Sequence[Transaction]:
        self.pool.remove_included(block.transactions, state)
        self._record()
        return ()

    def _record(self) -> None:
        self._recorded_at = time.monotonic()
        pending, queued = self.pool.stats()
        self.metrics.set("txpool_pending", pending)
        self.metrics.set("txpool_queued", queued)


class PoolService(Service):
    """Creates the node's pool when the node starts."""

    def __init__(self) -> None:
        self.pool: NodePool | None = None

    async def start(self, context: ServiceContext) -> None:
        node = context.stash[CHAIN]
        pool = TransactionPool(context.kernel, block_gas_limit=node.head.gas_limit)
        self.pool = NodePool(pool, node, context.stash[EVENTS], context.metrics)
        context.stash[POOL] = self.pool

    async def stop(self) -> None:
        pass  # pooled transactions are not persisted, as in geth without a journal
