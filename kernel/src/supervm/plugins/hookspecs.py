"""SuperVM's hook specifications: the contract between the kernel and its plugins.

Hooks are grouped by area. ``supervm_register_*`` hooks receive a typed registry and add named
implementations to it; the kernel picks one by name. ``supervm_observe_*`` hooks are notified of
lifecycle events and every implementation is called. Hooks are always called with keyword
arguments; a plugin's implementation may accept any subset of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from supervm.chain.consensus import BlockProposal
    from supervm.model import BlockResult, Call, ExecutionResult
    from supervm.plugins.registry import (
        CommandRegistry,
        CompilerRegistry,
        ConsensusRegistry,
        HostFunctionRegistry,
        SchedulerRegistry,
        StorageRegistry,
        VMRegistry,
    )

PROJECT = "supervm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_storage(registry: StorageRegistry) -> None:
    """Register storage backends.

    Called once when the kernel starts. Call ``registry.add_storage(name, factory)`` for each
    backend; ``factory(settings)`` returns a :class:`~supervm.state.storage.Storage`.

    :param registry: the storage registry to add to.
    """


# --------------------------------------------------------------------------------------------
# Host functions
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_host_functions(registry: HostFunctionRegistry) -> None:
    """Register host functions contracts can import.

    Called once when the kernel starts. Call ``registry.add_host_function(HostFunction(...))``;
    every execution backend binds every registered function.

    :param registry: the host-function registry to add to.
    """


# --------------------------------------------------------------------------------------------
# Execution backends
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_vm(registry: VMRegistry) -> None:
    """Register execution backends (virtual machines).

    Called once when the kernel starts. Call ``registry.add_vm(name, factory)``;
    ``factory(settings, host_functions)`` returns an
    :class:`~supervm.execution.interfaces.ExecutionBackend`.

    :param registry: the execution-backend registry to add to.
    """


# --------------------------------------------------------------------------------------------
# Schedulers
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_scheduler(registry: SchedulerRegistry) -> None:
    """Register block schedulers.

    Called once when the kernel starts. Call ``registry.add_scheduler(name, factory)``;
    ``factory(settings)`` returns a :class:`~supervm.execution.interfaces.Scheduler`.

    :param registry: the scheduler registry to add to.
    """


# --------------------------------------------------------------------------------------------
# Consensus
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_consensus(registry: ConsensusRegistry) -> None:
    """Register consensus engines.

    Called once when the kernel starts. Call ``registry.add_consensus(name, factory)``;
    ``factory(settings)`` returns a :class:`~supervm.chain.consensus.ConsensusEngine`.

    :param registry: the consensus registry to add to.
    """


# --------------------------------------------------------------------------------------------
# Contract compilers
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_compilers(registry: CompilerRegistry) -> None:
    """Register contract compilers.

    Called when ``supervm compile`` (or :meth:`Kernel.compilers`) needs them. Call
    ``registry.add_compiler(name, compiler)`` with a
    :class:`~supervm.tooling.compilers.Compiler`; the kernel chooses a compiler for each source
    by its file suffix.

    :param registry: the compiler registry to add to.
    """


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_commands(registry: CommandRegistry) -> None:
    """Register ``supervm`` subcommands.

    Called when the command line starts. Call ``registry.add_command(command, group="bench")``
    with a :class:`click.Command`; ``group`` may be empty for a top-level command.

    :param registry: the command registry to add to.
    """


# --------------------------------------------------------------------------------------------
# Lifecycle observers
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_observe_transaction(call: Call, result: ExecutionResult) -> None:
    """Called for each call of an executed block, in block order, after the block's commit.

    Schedulers may execute calls out of order or more than once; observers only ever see the
    final result of each call, once.

    :param call: the call that ran.
    :param result: what it produced.
    """


@hookspec
def supervm_observe_block(proposal: BlockProposal, result: BlockResult) -> None:
    """Called after a block's state has been committed to storage.

    :param proposal: the block that was executed.
    :param result: the results of its calls.
    """
