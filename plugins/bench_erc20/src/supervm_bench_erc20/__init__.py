"""``supervm bench erc20``: ERC20 transfers on SuperVM's WASM runtime, pyrevm and py-evm.

This module is the plugin; the benchmark lives in :mod:`supervm_bench_erc20.bench`.
"""

from __future__ import annotations

from supervm import hookimpl
from supervm.plugins.registry import CommandRegistry


@hookimpl
def supervm_register_commands(registry: CommandRegistry) -> None:
    """Add ``supervm bench erc20``, ``supervm bench chain`` and ``supervm bench node``."""
    from .chain_cli import chain_command
    from .cli import erc20_command
    from .node_bench import node_command

    registry.add_command(erc20_command, group="bench")
    registry.add_command(chain_command, group="bench")
    registry.add_command(node_command, group="bench")
