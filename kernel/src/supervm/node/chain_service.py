"""The ``chain`` service: opens (or creates) the node's chain and shares it.

On start it opens the chain in ``DATA_DIR/chain/`` (LMDB, like ``supervm chain``), creating it
from the genesis file, or in dev mode from a dev genesis, if the directory holds none; then it
stores the :class:`~supervm.node.access.NodeChain` and a
:class:`~supervm.node.events.ChainEvents` in the stash for the other services. Dev mode without
a data directory keeps the chain in a temporary directory, removed when the node stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

from supervm.chain.chain import Chain, ChainError
from supervm.chain.dev_accounts import dev_accounts
from supervm.chain.genesis import dev_genesis, load_genesis, parse_genesis
from supervm.chain.store import ChainStore
from supervm.node.access import NodeChain
from supervm.node.config import NodeConfig
from supervm.node.events import ChainEvents
from supervm.node.keys import CHAIN, CONFIG, EVENTS
from supervm.services.service import Service, ServiceContext
from supervm.state.storage import Storage, StorageSettings

log = logging.getLogger("supervm.node")

#: The data directory's subdirectory holding the chain (the same as ``supervm chain``'s).
CHAIN_SUBDIR: Final = "chain"
#: The storage a node keeps its chain in.
CHAIN_STORAGE: Final = "lmdb"


def dev_chain_genesis() -> dict[str, Any]:
    """The genesis of a dev chain: the ten dev accounts funded, the kernel's ``dev`` engine.

    A dev chain has one authority (dev account 0) and no seal in its headers, as Hardhat,
    anvil and geth's dev mode: a Clique seal makes ``extraData`` 97 bytes, which web3.py refuses
    by default (``ExtraDataLengthError``) without its proof-of-authority middleware, and a dev
    node must work with every client unchanged. Proof of authority is for chains started from a
    genesis naming the ``poa`` engine (``--genesis``).
    """
    return dev_genesis(tuple(a.address for a in dev_accounts()))


class ChainService(Service):
    """Opens the node's chain when it starts and closes it when it stops."""

    def __init__(self) -> None:
        self._node: NodeChain | None = None
        self._storage: Storage | None = None
        self._temporary: Path | None = None

    async def start(self, context: ServiceContext) -> None:
        config = context.stash.get(CONFIG) or NodeConfig(dev=True)
        kernel = context.kernel
        data_dir = config.data_dir
        if data_dir is None:
            if not config.dev:
                raise ChainError("a node needs --data-dir DIR (or --dev for a throwaway chain)")
            data_dir = self._temporary = Path(tempfile.mkdtemp(prefix="supervm-dev-"))
        path = data_dir / CHAIN_SUBDIR
        path.mkdir(parents=True, exist_ok=True)
        storage = self._storage = kernel.open_storage(CHAIN_STORAGE, StorageSettings(data_dir=path))
        if ChainStore(storage).head_hash() is None:
            if config.genesis is not None:
                genesis, raw = load_genesis(config.genesis)
            elif config.dev:
                data = dev_chain_genesis()
                raw = json.dumps(data, indent=2).encode()
                genesis = parse_genesis(data)
            else:
                raise ChainError(f"no chain in {path}: start it with --genesis FILE (or --dev)")
            chain = await asyncio.to_thread(Chain.initialise, kernel, storage, genesis, raw)
            log.info("created chain %d in %s", genesis.chain_id, path)
        else:
            chain = Chain(kernel, storage)
            log.info("opened chain %d at block %d in %s", chain.chain_id, chain.head.number, path)
        accounts = tuple(dev_accounts()) if config.dev else ()
        self._node = NodeChain(chain, accounts=accounts, gas_cap=config.rpc_gas_cap)
        context.stash[CHAIN] = self._node
        context.stash[EVENTS] = ChainEvents(asyncio.get_running_loop())
        context.metrics.set("chain_head_block", chain.head.number)

    async def stop(self) -> None:
        if self._node is not None:
            await asyncio.to_thread(self._node.close)
        if self._storage is not None:
            self._storage.close()
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
