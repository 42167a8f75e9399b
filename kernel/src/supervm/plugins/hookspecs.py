"""SuperVM's hook specifications: the contract between the kernel and its plugins.

Hooks are grouped by area. ``supervm_register_*`` hooks receive a typed registry and add named
implementations to it; the kernel picks one by name. ``supervm_observe_*`` hooks are notified of
lifecycle events and every implementation is called. The chain's hooks let plugins refuse
transactions (``supervm_admit_transaction``), act around each block (``supervm_before_block``,
``supervm_after_block``) and wrap its execution (``supervm_execute_block``). Hooks are always
called with keyword arguments; a plugin's implementation may accept any subset of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from supervm.chain.blocks import Block, BlockHeader
    from supervm.chain.consensus import BlockProposal
    from supervm.chain.pipeline import ExecutedBlock
    from supervm.chain.receipts import Receipt
    from supervm.chain.transactions import Transaction
    from supervm.model import BlockResult, Call, ExecutionResult
    from supervm.plugins.registry import (
        CommandRegistry,
        CompilerRegistry,
        ConsensusRegistry,
        HostFunctionRegistry,
        MetricRegistry,
        P2PHandlerRegistry,
        RpcMethodRegistry,
        SchedulerRegistry,
        ServiceRegistry,
        StorageRegistry,
        VMRegistry,
    )
    from supervm.services.admission import AdmissionContext, Rejection
    from supervm.state.world import WorldState

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
# Services
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_services(registry: ServiceRegistry) -> None:
    """Register long-running services (RPC server, transaction pool, block producer, network).

    Called each time :meth:`Kernel.services` is called, which a
    :class:`~supervm.services.host.ServiceHost` does once, into a fresh registry. Call
    ``registry.add_service(name, service, after=())`` with a new
    :class:`~supervm.services.service.Service` instance; the host starts the services in one
    event loop, in registration order but each after the services it names in ``after``, and
    stops them in the reverse order.

    :param registry: the service registry to add to.
    """


# --------------------------------------------------------------------------------------------
# JSON-RPC
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_rpc_methods(registry: RpcMethodRegistry) -> None:
    """Register JSON-RPC methods.

    Called each time :meth:`Kernel.rpc_methods` is called (by the RPC server when it starts),
    into a fresh registry. Call ``registry.add_method("eth_chainId", handler)``: the name's
    prefix before the first ``_`` is its namespace, names are unique, and
    ``handler(params, context)`` (plain or ``async``) receives the request's params and the
    RPC service's :class:`~supervm.services.service.ServiceContext`.

    :param registry: the JSON-RPC method registry to add to.
    """


# --------------------------------------------------------------------------------------------
# Peer-to-peer network
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_p2p_handlers(registry: P2PHandlerRegistry) -> None:
    """Register handlers for peer-to-peer protocols.

    Called each time :meth:`Kernel.p2p_handlers` is called (by the network service when it
    starts), into a fresh registry. Call ``registry.add_handler(protocol_id, handler)``, one
    handler per protocol id; ``handler(message, context)`` (plain or ``async``) receives a
    :class:`~supervm.services.p2p.PeerMessage` and returns reply bytes or ``None``.

    :param registry: the p2p handler registry to add to.
    """


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_register_metrics(registry: MetricRegistry) -> None:
    """Declare metrics: counters, gauges and histograms, by name, with help text.

    Called each time :meth:`Kernel.metrics` is called (by the service host when it is built),
    into a fresh registry. Call ``registry.add_counter(name, help, labels=())``,
    ``add_gauge(...)`` or ``add_histogram(..., buckets=...)``; services record values through
    ``context.metrics`` and an exporter plugin publishes them.

    :param registry: the metric registry to add to.
    """


# --------------------------------------------------------------------------------------------
# Transaction admission
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def supervm_admit_transaction(
    transaction: Transaction, context: AdmissionContext
) -> Rejection | None:
    """Refuse a transaction the pool is about to admit, or let it through.

    Called by the transaction pool (through :func:`supervm.services.admission.admit`) for each
    new transaction, after the kernel's own checks (signature, nonce, funds) passed. Return a
    :class:`~supervm.services.admission.Rejection` with a reason to refuse it, ``None`` to let
    the other plugins decide. ``firstresult``: the first refusal wins and the remaining plugins
    are not asked, because a refusal is final and checks may be costly; only refusals are
    results, so no plugin can admit a transaction on behalf of the others.

    :param transaction: the signed transaction, sender recovered.
    :param context: the state at the pool's head and the next block's environment.
    """


# --------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------


@hookspec
def supervm_before_block(header: BlockHeader, state: WorldState) -> None:
    """Called before a block's transactions execute, both when building and when importing it.

    Writes to ``state`` become part of the block's state transition (system contracts,
    per-block bookkeeping), so every node of a chain must run the same implementations or
    their state roots diverge. Called by the block pipeline after the consensus engine's
    ``prepare``; every implementation is called.

    :param header: the block's header, engine fields prepared.
    :param state: the state the block's transactions will run on.
    """


@hookspec(firstresult=True)
def supervm_execute_block(  # type: ignore[empty-body]
    header: BlockHeader, transactions: Sequence[Transaction]
) -> ExecutedBlock:
    """Wrap the execution of a block's transactions: time it, trace it, log it.

    The kernel's block pipeline executes the block, both when building and when importing it,
    through :meth:`~supervm.plugins.loading.PluginSet.call_wrapped`; plugins implement this
    hook only as a wrapper, ``@hookimpl(wrapper=True)``, around that execution:
    ``executed = yield`` returns what the execution produced (or raises its exception), and
    the wrapper returns it on. A plugin implementing it without ``wrapper=True`` is refused
    when the hook is called.

    :param header: the block's header; when building, a draft whose roots and gas used are
        not filled in yet.
    :param transactions: the transactions to execute, in order.
    """


@hookspec
def supervm_after_block(block: Block, receipts: Sequence[Receipt]) -> None:
    """Called after a block has become canonical, built here or imported.

    The block has been executed, checked and committed to storage with its receipts, on the
    canonical chain. For reactions to it: indexing, notifying subscribers, metrics. After a
    reorg it is called for every block of the new branch, lowest first (the blocks it replaced
    get no call). A block stored on a side chain gets none until its branch wins. Every
    implementation is called. Not called for a block that fails to execute or to import; an
    exception raised here reaches whoever added the block, but the block is already committed.

    :param block: the block, now canonical (the head, or below it on a new branch).
    :param receipts: one receipt per transaction of the block, in order.
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
