"""The options a node runs with: ``supervm node``'s flags, as one record services read."""

from __future__ import annotations

from pathlib import Path

import attrs

#: geth's defaults for the JSON-RPC endpoint.
DEFAULT_RPC_HOST = "127.0.0.1"
DEFAULT_RPC_PORT = 8545
#: The most bytes one HTTP request or WebSocket message may carry (geth: 5 MiB).
DEFAULT_MAX_REQUEST_BYTES = 5 * 1024 * 1024
#: The most calls one JSON-RPC batch may hold (geth's ``--rpc.batch-request-limit``).
DEFAULT_MAX_BATCH = 1000
#: The most bytes a batch's responses may add up to (geth's ``--rpc.batch-response-max-size``).
DEFAULT_MAX_BATCH_RESPONSE_BYTES = 25 * 1000 * 1000
#: The gas an ``eth_call`` or ``eth_estimateGas`` may use at most (geth's ``--rpc.gascap``).
DEFAULT_RPC_GAS_CAP = 50_000_000
#: The peer-to-peer network listens on loopback unless told otherwise (``--p2p-host``).
DEFAULT_P2P_HOST = "127.0.0.1"
#: The most peers a node keeps, and the count it dials toward (geth's ``--maxpeers`` is 50; a
#: validator network is small).
DEFAULT_MAX_PEERS = 25


@attrs.frozen(kw_only=True)
class NodeConfig:
    """What ``supervm node`` was asked for.

    :param dev: a one-authority development chain: chain id 31337, the dev accounts funded,
        blocks sealed as soon as transactions arrive (or every ``block_time`` seconds).
    :param data_dir: where the chain is kept (its ``chain/`` subdirectory); ``None`` with
        ``dev`` means a temporary directory, removed at exit.
    :param genesis: the genesis file a new chain starts from (ignored once the chain exists).
    :param rpc_host: the address the JSON-RPC server listens on.
    :param rpc_port: its port (HTTP and WebSocket on one port); 0 picks a free one.
    :param metrics_port: the Prometheus endpoint's port, or ``None`` for none.
    :param block_time: seconds between blocks; 0 seals a block as soon as transactions arrive.
    :param validator_key: the file holding the sealer's private key (hex), if this node seals.
    :param cors_origins: origins browsers may call the RPC from (``*`` for any); none by default.
    :param vhosts: ``Host`` header names the RPC accepts (``*`` for any); ``localhost`` and the
        listening address by default, as geth does against DNS rebinding.
    :param max_request_bytes: the largest request body or WebSocket message accepted.
    :param max_batch: the most calls in one batch.
    :param max_batch_response_bytes: the most bytes a batch's responses may add up to.
    :param rpc_gas_cap: the most gas an ``eth_call`` or ``eth_estimateGas`` runs with.
    :param log_blocks: log a line per sealed or imported block.
    :param explorer: serve the block explorer (the explorer plugin), ``--no-explorer`` off.
    :param explorer_port: serve it on this port instead of at ``/`` on the RPC port.
    :param artifacts_dir: a folder of contract artifacts the node knows from the start (their
        ABIs decode calls and logs in the explorer and ``supervm_decode*``).
    :param p2p_port: the peer-to-peer network's TCP port (0 picks a free one); ``None`` runs no
        network, as a dev node does.
    :param p2p_host: the address the network listens on.
    :param bootnodes: multiaddrs (``/ip4/H/tcp/P/p2p/ID``) of the peers the node dials first.
    :param max_peers: the most peers the node keeps, and the count it dials toward.
    :param automine: whether ``eth_sendRawTransaction`` and ``eth_sendTransaction`` answer only
        once the transaction is in a block, as Hardhat's and anvil's automining dev nodes do
        (tools such as hardhat-chai-matchers read the receipt right after sending). ``None``:
        on for a dev node sealing as transactions arrive (``dev`` and ``block_time`` 0), off
        otherwise.
    """

    dev: bool = False
    data_dir: Path | None = None
    genesis: Path | None = None
    rpc_host: str = DEFAULT_RPC_HOST
    rpc_port: int = DEFAULT_RPC_PORT
    metrics_port: int | None = None
    block_time: float = 0.0
    validator_key: Path | None = None
    cors_origins: tuple[str, ...] = ()
    vhosts: tuple[str, ...] = ("localhost",)
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_batch: int = DEFAULT_MAX_BATCH
    max_batch_response_bytes: int = DEFAULT_MAX_BATCH_RESPONSE_BYTES
    rpc_gas_cap: int = DEFAULT_RPC_GAS_CAP
    log_blocks: bool = True
    explorer: bool = True
    explorer_port: int | None = None
    artifacts_dir: Path | None = None
    p2p_port: int | None = None
    p2p_host: str = DEFAULT_P2P_HOST
    bootnodes: tuple[str, ...] = ()
    max_peers: int = DEFAULT_MAX_PEERS
    automine: bool | None = None

    @property
    def automining(self) -> bool:
        """Whether sends wait for their block (:attr:`automine`, or its default)."""
        if self.automine is not None:
            return self.automine
        return self.dev and self.block_time == 0
