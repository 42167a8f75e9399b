"""The ``network`` service: a libp2p host serving the node's chain to its peers.

Started after the chain and the pool; with no ``--p2p-port`` (``NodeConfig.p2p_port`` is
``None``) it does nothing, so a dev node runs no network. Otherwise it builds the node's
:class:`~.network.Network` (peers, scores, discovery), :class:`~.gossip.Gossip`,
:class:`~.sync.Syncer` and :class:`~.importer.BlockImporter`, puts the network in the stash
under :data:`~.network.NETWORK`, starts the transport with the protocols the enabled plugins
registered handlers for, and logs the node's multiaddr (``/ip4/H/tcp/P/p2p/ID``, also under
``ENDPOINTS["p2p"]``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from supervm.node.config import NodeConfig
from supervm.node.keys import CHAIN, CONFIG, ENDPOINTS, EVENTS
from supervm.node.peers import NETWORK_STATUS
from supervm.services.service import Service, ServiceContext, ServiceError

from . import nodekey
from .gossip import Gossip
from .importer import BlockImporter
from .libp2p_transport import Libp2pTransport
from .network import NETWORK, Network
from .sync import Syncer
from .transport import GOSSIP_TOPICS

log = logging.getLogger("supervm.network")


class NetworkService(Service):
    """Runs the node's peer-to-peer network while the node runs."""

    def __init__(self) -> None:
        self.network: Network | None = None
        self.transport: Libp2pTransport | None = None
        self.gossip: Gossip | None = None

    async def start(self, context: ServiceContext) -> None:
        config = context.stash.get(CONFIG) or NodeConfig()
        if config.p2p_port is None:
            log.debug("no --p2p-port: this node runs no network")
            return
        try:
            ipaddress.IPv4Address(config.p2p_host)
        except ValueError:
            raise ValueError(
                f"--p2p-host {config.p2p_host!r} is not an IPv4 address (127.0.0.1, 0.0.0.0)"
            ) from None
        node = context.stash[CHAIN]
        events = context.stash[EVENTS]
        seed = await asyncio.to_thread(nodekey.load_or_create, config.data_dir)
        handlers = context.kernel.p2p_handlers()
        network = self.network = Network(context, node, handlers, max_peers=config.max_peers)
        for address in config.bootnodes:
            try:
                network.add_known(address, static=True)
            except ValueError as exc:
                raise ValueError(f"--bootnodes: {exc}") from None
        importer = BlockImporter(node, events, context.stash, context.metrics)
        syncer = network.syncer = Syncer(network, node, importer)
        gossip = self.gossip = network.gossip = Gossip(
            network, node, events, context.stash, importer, behind=syncer.note_head
        )
        protocols = handlers.protocols()
        transport = self.transport = Libp2pTransport(
            seed=seed,
            host=config.p2p_host,
            port=config.p2p_port,
            chain_id=node.chain_id,
            topics=[p for p in protocols if p in GOSSIP_TOPICS],
            protocols=[p for p in protocols if p not in GOSSIP_TOPICS],
            inbound=network.inbound,
            connected=network.connected,
            disconnected=network.disconnected,
        )
        network.transport = transport
        context.stash[NETWORK] = network
        context.stash[NETWORK_STATUS] = network
        context.metrics.set("p2p_peers", 0)
        await transport.start()
        gossip.listen()
        address = transport.addresses[0]
        context.stash.setdefault(ENDPOINTS, {})["p2p"] = address
        log.info(
            "p2p node %s",
            address,
            extra={
                "fields": {
                    "event": "p2p_listening",
                    "multiaddr": address,
                    "peer_id": transport.local_id,
                }
            },
        )
        for name, loop in (
            ("dial", network.dial_loop()),
            ("exchange", network.exchange_loop()),
            ("sync", syncer.run()),
            ("status", syncer.status_loop()),
            ("announce", gossip.run_announcer()),
            ("import", gossip.run_importer()),
            ("transport", self._watch(transport)),
        ):
            context.spawn(loop, name=f"network-{name}")

    @staticmethod
    async def _watch(transport: Libp2pTransport) -> None:
        """Fail the node if the libp2p host dies under it."""
        assert transport.failure is not None
        try:
            await transport.failure
        except Exception as exc:
            raise ServiceError(f"the libp2p host stopped: {exc}") from exc

    async def stop(self) -> None:
        if self.gossip is not None:
            self.gossip.close()
        if self.transport is not None:
            await self.transport.stop()
