"""SuperVM plugin: the peer-to-peer network over libp2p.

It registers the ``network`` service (:class:`~supervm_network.service.NetworkService`), the
handlers of its topics and protocols through ``supervm_register_p2p_handlers`` (so another
transport can serve the same handlers), the ``admin_*`` JSON-RPC methods and the ``p2p_*``
metrics. See ``docs/network.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from supervm.node.keys import CHAIN_SERVICE, POOL_SERVICE
from supervm.plugins.hookspecs import hookimpl

from . import handlers, rpc
from .commands import supervm_register_commands  # noqa: F401 - a hookimpl
from .network import NETWORK, InvalidMessage, Network
from .service import NetworkService
from .transport import BLOCKS_TOPIC, PEERS_PROTOCOL, SYNC_PROTOCOL, TX_TOPIC, Transport

if TYPE_CHECKING:
    from supervm.plugins.registry import (
        MetricRegistry,
        P2PHandlerRegistry,
        RpcMethodRegistry,
        ServiceRegistry,
    )

#: The name the service is registered under.
NETWORK_SERVICE: Final = "network"

__all__ = [
    "BLOCKS_TOPIC",
    "NETWORK",
    "NETWORK_SERVICE",
    "PEERS_PROTOCOL",
    "SYNC_PROTOCOL",
    "TX_TOPIC",
    "InvalidMessage",
    "Network",
    "NetworkService",
    "Transport",
]


@hookimpl
def supervm_register_services(registry: ServiceRegistry) -> None:
    """The network, once the chain (and the pool, if any) are there."""
    registry.add_service(
        NETWORK_SERVICE, NetworkService(), after=[CHAIN_SERVICE], after_if_present=[POOL_SERVICE]
    )


@hookimpl
def supervm_register_p2p_handlers(registry: P2PHandlerRegistry) -> None:
    """Transactions and blocks (gossip), sync and peer exchange (requests)."""
    registry.add_handler(TX_TOPIC, handlers.on_transactions)
    registry.add_handler(BLOCKS_TOPIC, handlers.on_block)
    registry.add_handler(SYNC_PROTOCOL, handlers.on_sync)
    registry.add_handler(PEERS_PROTOCOL, handlers.on_peers)


@hookimpl
def supervm_register_rpc_methods(registry: RpcMethodRegistry) -> None:
    """``admin_nodeInfo``, ``admin_peers``, ``admin_addPeer``."""
    for name, handler in rpc.METHODS.items():
        registry.add_method(name, handler)


@hookimpl
def supervm_register_metrics(registry: MetricRegistry) -> None:
    """geth's ``p2p_*`` names where it has one (peers, dials, serves, ingress, egress)."""
    registry.add_gauge("p2p_peers", "Peers connected.")
    registry.add_counter("p2p_dials", "Dials attempted.")
    registry.add_counter("p2p_dials_success", "Dials that connected.")
    registry.add_counter("p2p_serves", "Inbound connections accepted.")
    registry.add_counter("p2p_ingress", "Bytes of messages and answers received.")
    registry.add_counter("p2p_egress", "Bytes of messages, requests and answers sent.")
    registry.add_counter(
        "p2p_messages_in_total",
        "Gossip messages and requests received, by protocol.",
        labels=["protocol"],
    )
    registry.add_counter(
        "p2p_messages_out_total",
        "Gossip messages published and requests sent, by protocol.",
        labels=["protocol"],
    )
    registry.add_counter(
        "p2p_invalid_messages_total",
        "Invalid messages and answers received, by offence.",
        labels=["offence"],
    )
    registry.add_counter("p2p_peer_bans_total", "Peers banned for what they sent.")
    registry.add_counter("p2p_blocks_imported_total", "Blocks imported from the network.")
    registry.add_gauge("p2p_syncing", "1 while the node syncs from a peer, else 0.")
    registry.add_gauge("p2p_sync_starting_block", "The head when the last sync started.")
    registry.add_gauge("p2p_sync_current_block", "The head as of the last synced window.")
    registry.add_gauge("p2p_sync_highest_block", "The highest head a peer announced.")
