"""SuperVM plugin: the transaction pool.

The pool is a library the node drives (add on submission, ``pending`` when building a block,
``remove_included`` after one); it registers no hooks of its own yet, but being a
``supervm.plugins`` entry point lets a node enable or block it like any other plugin. The pool
lives in :mod:`supervm_mempool.pool`.
"""

from __future__ import annotations

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

__all__ = [
    "DEFAULT_BLOCK_GAS_LIMIT",
    "DEFAULT_MAX_PER_SENDER",
    "DEFAULT_MAX_SIZE",
    "PRICE_BUMP_PERCENT",
    "TX_MAX_SIZE",
    "AddResult",
    "PoolError",
    "TransactionPool",
]
