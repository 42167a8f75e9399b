"""``supervm node``: run a node, the services every enabled plugin registers, in one process.

``--dev`` makes a one-authority development chain (chain id 31337, the Hardhat/anvil accounts
funded, a block sealed as soon as transactions arrive), printed as Hardhat prints it. Ctrl-C or
SIGTERM stops every service in reverse order and closes the chain; a sealed block is committed
in one storage batch, so a node killed at any moment restarts at its last sealed block.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click

from supervm.chain.dev_accounts import DEV_MNEMONIC
from supervm.cli.chain import DATA_DIR_ENV
from supervm.cli.state import kernel_state
from supervm.kernel import Kernel
from supervm.node.config import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_PEERS,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_P2P_HOST,
    DEFAULT_RPC_GAS_CAP,
    DEFAULT_RPC_HOST,
    DEFAULT_RPC_PORT,
    NodeConfig,
)
from supervm.node.keys import CHAIN, CONFIG, ENDPOINTS
from supervm.services.host import ServiceHost
from supervm.services.service import Stash

log = logging.getLogger("supervm.node")


def _origins(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@click.command("node")
@click.option("--dev", is_flag=True, help="A one-authority dev chain (chain id 31337).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=DATA_DIR_ENV,
    help="Where the chain is kept (its chain/ subdirectory). With --dev, default: a temporary "
    "directory removed at exit; otherwise required.",
)
@click.option(
    "--genesis",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The genesis file a new chain starts from (geth's format).",
)
@click.option("--rpc-host", default=DEFAULT_RPC_HOST, show_default=True, help="JSON-RPC address.")
@click.option(
    "--rpc-port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_RPC_PORT,
    show_default=True,
    help="JSON-RPC port, HTTP and WebSocket (0: any free port).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve Prometheus metrics on this port (default: none).",
)
@click.option(
    "--block-time",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds between blocks; 0 seals as soon as transactions arrive.",
)
@click.option(
    "--automine/--no-automine",
    default=None,
    help="Answer eth_sendRawTransaction once the transaction is in a block, as Hardhat "
    "and anvil do [default: on with --dev and --block-time 0].",
)
@click.option(
    "--validator-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the sealer's private key (hex). Dev mode seals with dev account 0.",
)
@click.option(
    "--rpc-cors",
    default="",
    metavar="ORIGINS",
    help="Comma-separated origins browsers may call the RPC from ('*': any).",
)
@click.option(
    "--rpc-vhosts",
    default="localhost",
    show_default=True,
    metavar="HOSTS",
    help="Comma-separated Host names the RPC accepts ('*': any).",
)
@click.option(
    "--rpc-gas-cap",
    type=click.IntRange(min=21_000),
    default=DEFAULT_RPC_GAS_CAP,
    show_default=True,
    help="Most gas an eth_call or eth_estimateGas runs with (geth's --rpc.gascap).",
)
@click.option(
    "--rpc-max-batch",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BATCH,
    show_default=True,
    help="Most calls in one JSON-RPC batch (geth's --rpc.batch-request-limit).",
)
@click.option(
    "--rpc-max-request-bytes",
    type=click.IntRange(min=1024),
    default=DEFAULT_MAX_REQUEST_BYTES,
    show_default=True,
    help="Largest HTTP request body or WebSocket message accepted.",
)
@click.option(
    "--explorer-port",
    type=click.IntRange(0, 65535),
    help="Serve the block explorer on this port (default: at / on the RPC port).",
)
@click.option("--no-explorer", is_flag=True, help="Do not serve the block explorer.")
@click.option(
    "--artifacts",
    "artifacts_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A folder of contract artifacts (*.json) whose ABIs the explorer decodes with.",
)
@click.option(
    "--demo",
    "demo",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Once serving, deploy this ERC20 artifact and make a few transfers (make run).",
)
@click.option("--once", is_flag=True, help="With --demo: stop the node after the demo.")
@click.option(
    "--p2p-port",
    type=click.IntRange(0, 65535),
    help="Run the peer-to-peer network on this TCP port (0: any free port; default: no network).",
)
@click.option(
    "--p2p-host",
    default=DEFAULT_P2P_HOST,
    show_default=True,
    help="The address the peer-to-peer network listens on.",
)
@click.option(
    "--bootnodes",
    default="",
    metavar="ADDRS",
    help="Comma-separated multiaddrs of peers to dial first (/ip4/H/tcp/P/p2p/ID).",
)
@click.option(
    "--max-peers",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PEERS,
    show_default=True,
    help="Most peers to keep; the node dials toward this many.",
)
@click.pass_context
def node_command(
    ctx: click.Context,
    dev: bool,
    data_dir: Path | None,
    genesis: Path | None,
    rpc_host: str,
    rpc_port: int,
    metrics_port: int | None,
    block_time: float,
    automine: bool | None,
    validator_key: Path | None,
    rpc_cors: str,
    rpc_vhosts: str,
    rpc_gas_cap: int,
    rpc_max_batch: int,
    rpc_max_request_bytes: int,
    explorer_port: int | None,
    no_explorer: bool,
    artifacts_dir: Path | None,
    demo: Path | None,
    once: bool,
    p2p_port: int | None,
    p2p_host: str,
    bootnodes: str,
    max_peers: int,
) -> None:
    """Run a node: chain, transaction pool, block sealing, JSON-RPC and metrics."""
    if data_dir is None and not dev:
        raise click.UsageError("give --data-dir DIR (or --dev for a throwaway dev chain)")
    if once and demo is None:
        raise click.UsageError("--once stops the node after --demo: give --demo ARTIFACT")
    config = NodeConfig(
        dev=dev,
        data_dir=data_dir,
        genesis=genesis,
        rpc_host=rpc_host,
        rpc_port=rpc_port,
        metrics_port=metrics_port,
        block_time=block_time,
        automine=automine,
        validator_key=validator_key,
        cors_origins=_origins(rpc_cors),
        vhosts=_origins(rpc_vhosts),
        rpc_gas_cap=rpc_gas_cap,
        max_batch=rpc_max_batch,
        max_request_bytes=rpc_max_request_bytes,
        explorer=not no_explorer,
        explorer_port=explorer_port,
        artifacts_dir=artifacts_dir,
        p2p_port=p2p_port,
        p2p_host=p2p_host,
        bootnodes=_origins(bootnodes),
        max_peers=max_peers,
    )
    if config.bootnodes and p2p_port is None:
        raise click.UsageError("--bootnodes needs the network: give --p2p-port PORT")
    root = logging.getLogger("supervm")
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)  # a node reports its blocks unless told otherwise
        if not root.handlers:
            from supervm.cli.logs import configure_logging

            configure_logging(1)
    kernel = kernel_state(ctx).kernel
    code = asyncio.run(_serve(kernel, config, demo, once))
    if code:
        ctx.exit(code)


async def _serve(kernel: Kernel, config: NodeConfig, demo: Path | None, once: bool) -> int:
    stash = Stash()
    stash[CONFIG] = config
    host = ServiceHost(kernel, stash=stash)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, host.shutdown)
    await host.start()
    code = 0
    try:
        _announce(stash, config)
        if demo is not None:
            from supervm.node.demo import run_demo

            url = stash.get(ENDPOINTS, {}).get("rpc")
            if url is None:
                raise click.UsageError("--demo needs the JSON-RPC server (the rpc plugin)")
            try:
                await run_demo(url, demo, _echo)
            except Exception as exc:
                click.echo(f"error: the demo failed: {exc}", err=True)
                code = 1
            if once or code:
                host.shutdown()
            else:
                _echo("the node keeps serving; Ctrl-C stops it")
        await host.wait()
    finally:
        await host.stop()
    return code


def _echo(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def _announce(stash: Stash, config: NodeConfig) -> None:
    node = stash[CHAIN]
    head = node.head
    where = str(config.data_dir) if config.data_dir is not None else "a temporary directory"
    _echo(f"SuperVM node: chain {node.chain_id}, head block {head.number}, data in {where}")
    if node.accounts:
        state = node.state()
        _echo("")
        _echo("Accounts")
        _echo("========")
        _echo("")
        _echo(
            "WARNING: These accounts, and their private keys, are publicly known.\n"
            "Any funds sent to them on Mainnet or any other live network WILL BE LOST."
        )
        _echo(f"(mnemonic: {DEV_MNEMONIC})")
        _echo("")
        for account in node.accounts:
            balance = state.balance(account.address)
            _echo(f"Account #{account.index}: {account.checksum_address} ({balance // 10**18} ETH)")
            _echo(f"Private Key: 0x{account.private_key.hex()}")
            _echo("")
    endpoints = stash.get(ENDPOINTS, {})
    if "metrics" in endpoints:
        _echo(f"Prometheus metrics at {endpoints['metrics']}")
    if "explorer" in endpoints:
        _echo(f"Explorer at {endpoints['explorer']}")
    if "rpc" in endpoints:
        _echo(f"Started HTTP and WebSocket JSON-RPC server at {endpoints['rpc']}")
    else:
        _echo("No JSON-RPC server (the rpc plugin is not enabled)")
    if "p2p" in endpoints:
        _echo(f"P2P node at {endpoints['p2p']}")
