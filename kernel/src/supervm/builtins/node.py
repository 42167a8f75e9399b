"""The kernel's node services: ``chain`` (opens the chain) and ``producer`` (seals blocks).

Registered through the ``supervm.plugins`` entry point like any plugin's services, so
``--plugin no:node`` leaves a host without them (a plugin may then provide its own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervm.node.chain_service import ChainService
from supervm.node.keys import CHAIN_SERVICE, PRODUCER_SERVICE
from supervm.node.producer import BlockProducer
from supervm.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from supervm.plugins.registry import MetricRegistry, ServiceRegistry

#: Block times are milliseconds to seconds; a full block's commit can take a second or more.
_BLOCK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@hookimpl
def supervm_register_services(registry: ServiceRegistry) -> None:
    """The chain first, then the producer (which finds the pool, if any, once it runs)."""
    registry.add_service(CHAIN_SERVICE, ChainService())
    registry.add_service(PRODUCER_SERVICE, BlockProducer(), after=[CHAIN_SERVICE])


@hookimpl
def supervm_register_metrics(registry: MetricRegistry) -> None:
    """The chain's metrics, with the names Ethereum clients use where they have one."""
    registry.add_gauge("chain_head_block", "Number of the canonical head block.")
    registry.add_counter("chain_blocks_sealed_total", "Blocks this node sealed.")
    registry.add_counter("chain_transactions_total", "Transactions in the blocks sealed.")
    registry.add_counter("chain_gas_used_total", "Gas used by the blocks sealed.")
    registry.add_histogram(
        "chain_block_execution_seconds",
        "Seconds executing a block's transactions.",
        buckets=_BLOCK_BUCKETS,
    )
    registry.add_histogram(
        "chain_block_commit_seconds",
        "Seconds writing a block and its state in one batch.",
        buckets=_BLOCK_BUCKETS,
    )
    registry.add_histogram(
        "chain_block_seal_seconds",
        "Seconds sealing a block as a whole: execution, receipts, roots, seal and commit.",
        buckets=_BLOCK_BUCKETS,
    )
    registry.add_gauge(
        "chain_gas_per_second", "Gas per second of the last block, sealing included."
    )
    registry.add_counter(
        "chain_reexecutions_total",
        "Transactions executed again because a speculative read was stale.",
    )
