"""The node layer: one chain served to clients, fed by a pool, extended by a block producer.

A node is a :class:`~supervm.services.host.ServiceHost` running the services plugins register.
This package holds what those services share, so that none imports another's plugin:

- :class:`~supervm.node.config.NodeConfig`, the ``supervm node`` options;
- :class:`~supervm.node.access.NodeChain`, the chain as services see it: reads from the event
  loop, every write through one writer thread, calls and gas estimates;
- :class:`~supervm.node.events.ChainEvents`, new blocks and pending transactions as they happen;
- :class:`~supervm.node.pool.TransactionPoolService`, what a transaction pool plugin provides;
- the stash keys under which the services find them (:mod:`supervm.node.keys`).

The kernel's own services (``chain``, ``producer``) open the chain and seal blocks; the mempool,
JSON-RPC and metrics plugins register theirs next to them.
"""

from supervm.node.access import CallFailed, CallRequest, HistoricalStateError, NodeChain
from supervm.node.config import NodeConfig
from supervm.node.events import ChainEvents, NewBlock
from supervm.node.keys import CHAIN, CONFIG, ENDPOINTS, EVENTS, POOL
from supervm.node.pool import PoolRejected, TransactionPoolService

__all__ = [
    "CHAIN",
    "CONFIG",
    "ENDPOINTS",
    "EVENTS",
    "POOL",
    "CallFailed",
    "CallRequest",
    "ChainEvents",
    "HistoricalStateError",
    "NewBlock",
    "NodeChain",
    "NodeConfig",
    "PoolRejected",
    "TransactionPoolService",
]
