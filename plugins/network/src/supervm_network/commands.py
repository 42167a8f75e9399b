"""The network plugin's commands: ``supervm devnet up|down`` and ``supervm bench network``.

Registered by :func:`supervm_register_commands`; the plugin's ``__init__`` re-exports it so
that pluggy finds the hook on the plugin module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from supervm.chain.genesis import DEV_CHAIN_ID
from supervm.plugins.hookspecs import hookimpl

from . import devnet

if TYPE_CHECKING:
    from supervm.plugins.registry import CommandRegistry


@click.group("devnet")
def devnet_group() -> None:
    """A local network of validators on loopback, in the background."""


@devnet_group.command("up")
@click.option(
    "--validators", type=click.IntRange(min=1), required=True, help="How many validator nodes."
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Where keys, genesis, data directories and logs go.",
)
@click.option(
    "--base-port",
    type=click.IntRange(min=1024, max=65535),
    help="Node N listens for JSON-RPC on BASE+2N and for peers on BASE+2N+1 (default: free ports).",
)
@click.option(
    "--chain-id",
    type=click.IntRange(min=1),
    default=DEV_CHAIN_ID,
    show_default=True,
    help="The chain id of the genesis.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=90.0,
    show_default=True,
    help="Seconds to wait for the nodes to start and connect.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the network as one JSON line.")
def up_command(
    validators: int,
    directory: Path,
    base_port: int | None,
    chain_id: int,
    timeout: float,
    as_json: bool,
) -> None:
    """Start VALIDATORS nodes of a new proof-of-authority chain, connected to each other.

    The genesis funds the 10 dev accounts (`supervm accounts`) as `--dev` does. Returns once
    every node has a peer for each other node; `supervm devnet down --dir DIR` stops them.
    """
    net = devnet.up(directory, validators, base_port=base_port, chain_id=chain_id, timeout=timeout)
    if as_json:
        data = net.to_json()
        data["nodes"] = [
            {k: n[k] for k in ("address", "rpc", "p2p", "pid", "cmd")} for n in data["nodes"]
        ]
        click.echo(json.dumps(data))
        return
    click.echo(f"devnet of {validators} validators, chain {chain_id}, genesis {net.genesis}")
    for node in net.nodes:
        click.echo(f"node-{node.index}  {node.address}  rpc {node.rpc}  pid {node.pid}")
        click.echo(f"        p2p {node.p2p}")
    click.echo(f"stop it with: supervm devnet down --dir {directory}")


@devnet_group.command("down")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The directory `devnet up` used.",
)
def down_command(directory: Path) -> None:
    """Stop the nodes of the devnet in DIR (its keys, genesis and chains stay)."""
    stopped = devnet.down(directory)
    click.echo(f"stopped {len(stopped)} node{'' if len(stopped) == 1 else 's'}")


@hookimpl
def supervm_register_commands(registry: CommandRegistry) -> None:
    """``devnet up``, ``devnet down`` and ``bench network``."""
    from .bench import bench_network_command

    registry.add_command(devnet_group)
    registry.add_command(bench_network_command, group="bench")
