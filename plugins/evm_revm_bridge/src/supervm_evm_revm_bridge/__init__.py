"""SuperVM plugin: EVM backends (revm through pyrevm, and py-evm) in the one world state.

Registers:

- one VM, ``evm``, whose engine is chosen by ``VMSettings.options["evm"]``: ``pyrevm`` (the
  default, :class:`~supervm_evm_revm_bridge.revm_backend.RevmBackend`) or ``pyevm``
  (``supervm_evm_revm_bridge.pyevm_backend.PyEvmBackend``, imported only when chosen);
- the consensus engine ``ethereum`` (post-merge header rules, for Ethereum's test chains);
- the EIP-4788 beacon roots system call before each block (a no-op on chains without the
  beacon roots contract);
- the command ``supervm evm blocktest``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from supervm.plugins.hookspecs import hookimpl

from .evm_version import EVM_VERSION, REVM_SPEC_ID

if TYPE_CHECKING:
    from supervm.chain.blocks import BlockHeader
    from supervm.execution.host import HostFunction
    from supervm.execution.interfaces import ExecutionBackend, VMSettings
    from supervm.plugins.registry import CommandRegistry, ConsensusRegistry, VMRegistry
    from supervm.state.world import WorldState

__all__ = ["ENGINES", "EVM_VERSION", "REVM_SPEC_ID", "UnknownEngineError", "evm_backend"]

#: The engines ``VMSettings.options["evm"]`` may name; the first is the default.
ENGINES = ("pyrevm", "pyevm")
#: The option that names the engine.
ENGINE_OPTION = "evm"


class UnknownEngineError(ValueError):
    """``VMSettings.options["evm"]`` names no EVM engine."""


def evm_backend(
    settings: VMSettings, host_functions: Sequence[HostFunction] = ()
) -> ExecutionBackend:
    """The ``evm`` VM's factory: the engine ``settings.options["evm"]`` names."""
    engine = settings.options.get(ENGINE_OPTION, ENGINES[0])
    if engine == "pyrevm":
        from .revm_backend import RevmBackend

        return RevmBackend(settings, host_functions)
    if engine == "pyevm":
        from .pyevm_backend import PyEvmBackend  # type: ignore[import-not-found, unused-ignore]

        backend: ExecutionBackend = PyEvmBackend(settings, host_functions)
        return backend
    raise UnknownEngineError(
        f"unknown EVM engine {engine!r} in the VM option {ENGINE_OPTION!r}: choose one of "
        + ", ".join(ENGINES)
    )


@hookimpl
def supervm_register_vm(registry: VMRegistry) -> None:
    """Register the EVM as ``evm``."""
    registry.add_vm("evm", evm_backend)


@hookimpl
def supervm_register_consensus(registry: ConsensusRegistry) -> None:
    """Register Ethereum's post-merge header rules as ``ethereum``."""
    from .consensus import EthereumConsensus

    registry.add_consensus("ethereum", EthereumConsensus)


@hookimpl
def supervm_before_block(header: BlockHeader, state: WorldState) -> None:
    """EIP-4788: store the parent beacon block root in the beacon roots contract."""
    from .system_calls import beacon_roots_call

    beacon_roots_call(header, state)


@hookimpl
def supervm_register_commands(registry: CommandRegistry) -> None:
    """Add ``supervm evm blocktest``."""
    from .cli import blocktest_command

    registry.add_command(blocktest_command, group="evm")
