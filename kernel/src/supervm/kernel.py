"""The kernel: plugins composed into storage, execution backends, schedulers and consensus.

A chain builder embeds SuperVM through this class::

    kernel = Kernel.from_plugins()
    storage = kernel.open_storage("memory")
    vm = kernel.vm("wasm")
    context = ExecutionContext(block_number=1)
    result = kernel.execute(code, storage, context, entry="add", args=[2, 3])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import attrs

from supervm.chain.consensus import BlockProposal, ConsensusEngine, ConsensusSettings
from supervm.errors import CallError
from supervm.execution.deployment import DEPLOY_ENTRY, Deployment
from supervm.execution.dispatch import Dispatcher
from supervm.execution.executor import CallExecutor
from supervm.execution.host import HostFunction
from supervm.execution.interfaces import ExecutionBackend, Scheduler, SchedulerSettings, VMSettings
from supervm.execution.snapshot import execute_with_snapshot
from supervm.model import BlockResult, ExecutionContext, ExecutionResult
from supervm.plugins.loading import PluginSet, Selection
from supervm.plugins.registry import (
    CommandRegistry,
    CompilerRegistry,
    ConsensusRegistry,
    HostFunctionRegistry,
    MetricRegistry,
    NamedRegistry,
    P2PHandlerRegistry,
    RpcMethodRegistry,
    SchedulerRegistry,
    ServiceRegistry,
    StorageRegistry,
    VMRegistry,
)
from supervm.state.addresses import create_address
from supervm.state.overlay import StateOverlay
from supervm.state.storage import Storage, StorageSettings
from supervm.state.world import WorldState

T = TypeVar("T")

#: Implementation names used when neither configuration nor ``--plugin`` chooses one.
DEFAULTS = {"storage": "memory", "vm": "wasm", "scheduler": "serial", "consensus": "dev"}


class Kernel:
    """Registries filled by the enabled plugins, and the calls that use them."""

    def __init__(self, plugins: PluginSet) -> None:
        self.plugins = plugins
        self.storages = StorageRegistry()
        self.vms = VMRegistry()
        self.schedulers = SchedulerRegistry()
        self.consensus_engines = ConsensusRegistry()
        self.host_function_registry = HostFunctionRegistry()
        plugins.call_per_plugin("supervm_register_storage", self.storages)
        plugins.call_per_plugin("supervm_register_host_functions", self.host_function_registry)
        plugins.call_per_plugin("supervm_register_vm", self.vms)
        plugins.call_per_plugin("supervm_register_scheduler", self.schedulers)
        plugins.call_per_plugin("supervm_register_consensus", self.consensus_engines)
        self._vms: dict[tuple[str, VMSettings], ExecutionBackend] = {}
        self._dispatchers: dict[VMSettings, Dispatcher] = {}
        #: Settings for schedulers built without explicit ones (``supervm --workers N``).
        self.scheduler_settings = SchedulerSettings()
        #: Settings for execution backends built without explicit ones (``supervm --vm-option
        #: KEY=VALUE``: the EVM backend's ``evm=pyevm``, say), so that the chain's pipeline and
        #: every other caller that passes none run with them.
        self.vm_settings = VMSettings()

    @classmethod
    def from_plugins(
        cls,
        plugins: Sequence[str] = (),
        *,
        discover: bool = True,
        extra: Iterable[tuple[str, object]] = (),
        env: Mapping[str, str] | None = None,
        trace: bool | None = None,
    ) -> Kernel:
        """Build a kernel from installed plugins.

        :param plugins: ``--plugin`` values: names to enable and prefer, or ``no:NAME`` to block.
        :param discover: load plugins from the ``supervm.plugins`` entry points.
        :param extra: ``(name, plugin)`` pairs registered in-process, after discovery.
        :param env: environment to read ``SUPERVM_PLUGINS`` from (default: ``os.environ``).
        :param trace: trace hook calls (default: ``SUPERVM_TRACE_HOOKS=1``).
        """
        selection = Selection.parse(plugins, env)
        return cls(PluginSet(selection, discover=discover, extra=extra, trace=trace))

    # -- choosing implementations ------------------------------------------------------------

    def default_name(self, area: str) -> str:
        """The implementation used in ``area`` when none is named.

        The first ``--plugin`` that registered something in the area wins; otherwise the
        built-in default (``memory``, ``wasm``, ``serial``, ``dev``), or the only one registered.
        """
        registry = self._registry(area)
        for preferred in self.plugins.selection.prefer:
            for entry in registry.entries():
                if entry.plugin == preferred:
                    return entry.name
        if DEFAULTS[area] in registry or len(registry) != 1:
            return DEFAULTS[area]
        return registry.names()[0]

    def _registry(self, area: str) -> NamedRegistry[object]:
        registries: dict[str, NamedRegistry[object]] = {
            "storage": self.storages,  # type: ignore[dict-item]
            "vm": self.vms,  # type: ignore[dict-item]
            "scheduler": self.schedulers,  # type: ignore[dict-item]
            "consensus": self.consensus_engines,  # type: ignore[dict-item]
        }
        return registries[area]

    def open_storage(
        self,
        name: str | None = None,
        settings: StorageSettings | None = None,
        *,
        data_dir: str | Path | None = None,
    ) -> Storage:
        """Open a storage backend by name (default: ``memory`` or the preferred plugin's)."""
        if settings is None:
            settings = StorageSettings(data_dir=Path(data_dir) if data_dir else None)
        factory = self.storages.get(name or self.default_name("storage"))
        return factory(settings)

    def host_functions(self) -> list[HostFunction]:
        """Every host function the enabled plugins registered."""
        return self.host_function_registry.functions()

    def vm(self, name: str | None = None, settings: VMSettings | None = None) -> ExecutionBackend:
        """The execution backend ``name``, built once per settings and reused."""
        name = name or self.default_name("vm")
        settings = settings or self.vm_settings
        key = (name, settings)
        backend = self._vms.get(key)
        if backend is None:
            backend = self.vms.get(name)(settings, self.host_functions())
            self._vms[key] = backend
            backend.bind_dispatcher(self.dispatcher(settings))
        return backend

    def dispatcher(self, settings: VMSettings | None = None) -> Dispatcher:
        """The dispatcher that picks the backend for a piece of code, one per VM settings."""
        settings = settings or self.vm_settings
        found = self._dispatchers.get(settings)
        if found is None:
            found = self._dispatchers[settings] = Dispatcher(self, settings)
        return found

    def scheduler(
        self, name: str | None = None, settings: SchedulerSettings | None = None
    ) -> Scheduler:
        """A new scheduler by name (default: ``serial`` or the preferred plugin's)."""
        return self.schedulers.get(name or self.default_name("scheduler"))(
            settings or self.scheduler_settings
        )

    def consensus(
        self, name: str | None = None, settings: ConsensusSettings | None = None
    ) -> ConsensusEngine:
        """A new consensus engine by name."""
        return self.consensus_engines.get(name or self.default_name("consensus"))(
            settings or ConsensusSettings()
        )

    def compilers(self) -> CompilerRegistry:
        """Contract compilers contributed by plugins."""
        registry = CompilerRegistry()
        self.plugins.call_per_plugin("supervm_register_compilers", registry)
        return registry

    def commands(self) -> CommandRegistry:
        """Subcommands contributed by plugins."""
        registry = CommandRegistry()
        self.plugins.call_per_plugin("supervm_register_commands", registry)
        return registry

    def services(self) -> ServiceRegistry:
        """Long-running services contributed by plugins, new instances on each call."""
        registry = ServiceRegistry()
        self.plugins.call_per_plugin("supervm_register_services", registry)
        return registry

    def rpc_methods(self) -> RpcMethodRegistry:
        """JSON-RPC methods contributed by plugins."""
        registry = RpcMethodRegistry()
        self.plugins.call_per_plugin("supervm_register_rpc_methods", registry)
        return registry

    def p2p_handlers(self) -> P2PHandlerRegistry:
        """Peer-to-peer protocol handlers contributed by plugins."""
        registry = P2PHandlerRegistry()
        self.plugins.call_per_plugin("supervm_register_p2p_handlers", registry)
        return registry

    def metrics(self) -> MetricRegistry:
        """Metric descriptions declared by plugins."""
        registry = MetricRegistry()
        self.plugins.call_per_plugin("supervm_register_metrics", registry)
        return registry

    # -- executing ---------------------------------------------------------------------------

    def executor(self, settings: VMSettings | None = None) -> CallExecutor:
        """An executor of :class:`~supervm.model.Call` records with this kernel's backends."""
        return CallExecutor(self, settings)

    def execute(
        self,
        code: bytes,
        state: Storage | StateOverlay,
        context: ExecutionContext | None = None,
        *,
        entry: str = "call",
        args: Sequence[int] = (),
        input: bytes = b"",
        vm: str | None = None,
    ) -> ExecutionResult:
        """Execute one call and commit its writes if it succeeds.

        Given a :class:`Storage`, a successful call's writes are committed to it in one batch;
        given a :class:`StateOverlay`, they stay buffered in it for the caller to commit.
        """
        overlay = state if isinstance(state, StateOverlay) else WorldState(state)
        backend = self.vm(vm)
        result = backend.execute(
            code, overlay, context or ExecutionContext(), entry=entry, args=args, input=input
        )
        if not isinstance(state, StateOverlay) and result.ok:
            overlay.commit()
        return result

    def deploy(
        self,
        code: bytes,
        state: Storage | StateOverlay,
        context: ExecutionContext,
        *,
        input: bytes = b"",
        vm: str | None = None,
    ) -> Deployment:
        """Deploy ``code`` from ``context.caller`` at its ``CREATE`` address.

        The code's ``deploy`` export, if any, runs once with ``input`` (the ABI-encoded
        constructor arguments). On success the code is stored and the deployer's nonce bumped
        (committed to ``state`` if it is a :class:`Storage`); on failure nothing changes.
        """
        world = _world(state)
        backend = self.vm(vm)
        has_deploy = DEPLOY_ENTRY in backend.exports(code)  # also validates the code
        deployer = context.caller
        nonce = world.nonce(deployer)
        address = create_address(deployer, nonce)
        if world.has_code(address):
            raise CallError(f"a contract is already deployed at 0x{address.hex()}")
        ctx = attrs.evolve(context, address=address)

        def run(s: StateOverlay) -> ExecutionResult:
            result = ExecutionResult()
            if has_deploy:
                result = backend.execute(code, s, ctx, entry=DEPLOY_ENTRY, input=input)
            if result.ok:
                world.set_code(address, code)
                world.set_nonce(deployer, nonce + 1)
            return result

        result = execute_with_snapshot(world, run)
        if world is not state and result.ok:
            world.commit()
        return Deployment(address, result)

    def call(
        self,
        address: bytes,
        state: Storage | StateOverlay,
        context: ExecutionContext,
        *,
        input: bytes = b"",
        entry: str = "call",
        args: Sequence[int] = (),
        vm: str | None = None,
    ) -> ExecutionResult:
        """Call the contract deployed at ``address`` (committing on success, as ``execute``)."""
        world = _world(state)
        code = world.code(address)
        if not code:
            raise CallError(f"no contract is deployed at 0x{address.hex()}")
        ctx = attrs.evolve(context, address=address)
        result = self.execute(code, world, ctx, entry=entry, args=args, input=input, vm=vm)
        if world is not state and result.ok:
            world.commit()
        return result

    def execute_block(
        self,
        proposal: BlockProposal,
        storage: Storage,
        scheduler: Scheduler | None = None,
    ) -> BlockResult:
        """Execute a block with the chosen scheduler, commit it once, then notify observers.

        Observers run after the commit: an exception from one reaches the caller, but the block
        is already committed.
        """
        owned = scheduler is None
        scheduler = scheduler or self.scheduler()
        try:
            result = scheduler.execute_block(proposal.calls, storage, self.executor())
        finally:
            if owned:
                scheduler.close()
        # Observers see final results in block order, whatever order a scheduler executed in.
        hook = self.plugins.manager.hook
        for call, call_result in zip(proposal.calls, result.results, strict=True):
            hook.supervm_observe_transaction(call=call, result=call_result)
        hook.supervm_observe_block(proposal=proposal, result=result)
        return result

    def close(self) -> None:
        """Close every execution backend this kernel built."""
        for backend in self._vms.values():
            backend.close()
        self._vms.clear()
        self._dispatchers.clear()

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _world(state: Storage | StateOverlay) -> WorldState:
    """The world state over ``state``: itself if it is one, else a new one (committed by us)."""
    if isinstance(state, WorldState):
        return state
    if isinstance(state, StateOverlay):
        raise TypeError("deploy and call need a Storage or a WorldState, not a bare StateOverlay")
    return WorldState(state)


__all__ = ["Kernel", "execute_with_snapshot"]
