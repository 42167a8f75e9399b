"""The stash keys under which a node's services find what they share.

The kernel's ``chain`` service stores :data:`CHAIN` and :data:`EVENTS` when it starts; the
transaction pool plugin's service stores :data:`POOL`; the command line stores :data:`CONFIG`
before any service starts. A service that reads one declares ``after=[...]`` the service that
provides it.
"""

from __future__ import annotations

from typing import Final

from supervm.node.access import NodeChain
from supervm.node.config import NodeConfig
from supervm.node.events import ChainEvents
from supervm.node.pool import TransactionPoolService
from supervm.services.service import StashKey

CONFIG: Final = StashKey[NodeConfig]("node config")
CHAIN: Final = StashKey[NodeChain]("node chain")
EVENTS: Final = StashKey[ChainEvents]("chain events")
POOL: Final = StashKey[TransactionPoolService]("transaction pool")
#: Where the node can be reached, by what (``"rpc"``: ``http://127.0.0.1:8545/``,
#: ``"metrics"``: ``http://127.0.0.1:6060/metrics``): a service that listens adds its URL when
#: it starts (with the port it was given, if it asked for port 0); the command line prints them.
ENDPOINTS: Final = StashKey[dict[str, str]]("endpoints")

#: The names of the kernel's node services, for ``after=``.
CHAIN_SERVICE: Final = "chain"
PRODUCER_SERVICE: Final = "producer"
#: The name the mempool plugin registers its service under.
POOL_SERVICE: Final = "txpool"
