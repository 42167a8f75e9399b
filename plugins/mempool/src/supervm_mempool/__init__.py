"""SuperVM plugin: the transaction pool.

The pool (:mod:`supervm_mempool.pool`) is a library: add on submission, ``pending`` when
building a block, ``remove_included`` after one. The plugin registers the node's ``txpool``
service (:mod:`supervm_mempool.service`), which checks transactions against the node's head
and hands the block producer its transactions, and the ``txpool_*`` metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervm.node.keys import CHAIN_SERVICE, POOL_SERVICE
from supervm.plugins.hookspecs import hookimpl

from .pool import (
    DEFAULT_BLOCK_GAS_LIMIT,
    DEFAULT_MAX_PER_SENDER,
    DEFAULT_MAX_SIZE,
    PRICE_BUMP_PERCENT,
    TX_MAX_SIZE,
    AddResult,
    PoolError,
    TransactionPool,
)
from .service import NodePool, PoolService

if TYPE_CHECKING:
    from supervm.plugins.registry import MetricRegistry, ServiceRegistry


@hookimpl
def supervm_register_services(registry: ServiceRegistry) -> None:
    """The node's pool, once the chain it checks transactions against is open."""
    registry.add_service(POOL_SERVICE, PoolService(), after=[CHAIN_SERVICE])


@hookimpl
def supervm_register_metrics(registry: MetricRegistry) -> None:
    """geth's pool gauges, and a counter of refusals."""
    registry.add_gauge("txpool_pending", "Transactions executable at the head.")
    registry.add_gauge("txpool_queued", "Transactions waiting behind a nonce gap.")
    registry.add_counter("txpool_rejected_total", "Transactions the pool refused.")


__all__ = [
    "DEFAULT_BLOCK_GAS_LIMIT",
    "DEFAULT_MAX_PER_SENDER",
    "DEFAULT_MAX_SIZE",
    "PRICE_BUMP_PERCENT",
    "TX_MAX_SIZE",
    "AddResult",
    "NodePool",
    "PoolError",
    "PoolService",
    "TransactionPool",
]
