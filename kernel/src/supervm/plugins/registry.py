"""Typed registries that register-style hooks fill.

A plugin never replaces a kernel object: it adds named candidates to a registry, and the kernel
chooses one by name from configuration. Duplicate names are rejected, naming both plugins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

import attrs
import click

from supervm.chain.consensus import ConsensusFactory
from supervm.errors import DuplicateNameError, PluginError, UnknownImplementationError
from supervm.execution.host import HostFunction
from supervm.execution.interfaces import SchedulerFactory, VMFactory
from supervm.services.metrics import DEFAULT_BUCKETS, Metric, MetricError, MetricKind
from supervm.services.p2p import PROTOCOL_ID, P2PHandler
from supervm.services.rpc import METHOD_NAME, RpcHandler, RpcMethod, namespace_of
from supervm.services.service import Service, ServiceError
from supervm.state.storage import StorageFactory
from supervm.tooling.compilers import Compiler

T = TypeVar("T")


@attrs.frozen
class Entry(Generic[T]):
    """A registered implementation and the plugin that registered it."""

    name: str
    value: T
    plugin: str


class NamedRegistry(Generic[T]):
    """Implementations of one area, by name."""

    def __init__(self, area: str) -> None:
        self.area = area
        self._entries: dict[str, Entry[T]] = {}
        #: The plugin whose hook is running; set by the kernel around each hook call.
        self.current_plugin = "<unknown>"

    def _add(self, name: str, value: T) -> None:
        if not name or not isinstance(name, str):
            raise PluginError(f"{self.current_plugin}: {self.area} name must be a non-empty string")
        if name in self._entries:
            first = self._entries[name].plugin
            raise DuplicateNameError(
                f"{self.area} {name!r} registered twice: by {first} and by {self.current_plugin}"
            )
        self._entries[name] = Entry(name, value, self.current_plugin)

    def get(self, name: str) -> T:
        """The implementation registered as ``name``."""
        return self.entry(name).value

    def entry(self, name: str) -> Entry[T]:
        """The registration of ``name``, with the plugin that made it."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownImplementationError(
                f"no {self.area} named {name!r} (available: {known})"
            ) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry[T]]:
        """All registrations in registration order."""
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)


class StorageRegistry(NamedRegistry[StorageFactory]):
    """Storage backends: ``registry.add_storage("lmdb", LmdbStorage)``."""

    def __init__(self) -> None:
        super().__init__("storage backend")

    def add_storage(self, name: str, factory: StorageFactory) -> None:
        """Register a storage backend factory taking :class:`~supervm.state.StorageSettings`."""
        self._add(name, factory)


class VMRegistry(NamedRegistry[VMFactory]):
    """Execution backends: ``registry.add_vm("wasm", WasmtimeBackend)``."""

    def __init__(self) -> None:
        super().__init__("execution backend")

    def add_vm(self, name: str, factory: VMFactory) -> None:
        """Register a factory ``(VMSettings, host_functions) -> ExecutionBackend``."""
        self._add(name, factory)


class SchedulerRegistry(NamedRegistry[SchedulerFactory]):
    """Schedulers: ``registry.add_scheduler("serial", SerialScheduler)``."""

    def __init__(self) -> None:
        super().__init__("scheduler")

    def add_scheduler(self, name: str, factory: SchedulerFactory) -> None:
        """Register a factory ``(SchedulerSettings) -> Scheduler``."""
        self._add(name, factory)


class ConsensusRegistry(NamedRegistry[ConsensusFactory]):
    """Consensus engines: ``registry.add_consensus("poa", PoA)``."""

    def __init__(self) -> None:
        super().__init__("consensus engine")

    def add_consensus(self, name: str, factory: ConsensusFactory) -> None:
        """Register a factory ``(ConsensusSettings) -> ConsensusEngine``."""
        self._add(name, factory)


class HostFunctionRegistry(NamedRegistry[HostFunction]):
    """Host functions, by ``module.name``: ``registry.add_host_function(HostFunction(...))``."""

    def __init__(self) -> None:
        super().__init__("host function")

    def add_host_function(self, function: HostFunction) -> None:
        """Register one host function; its ``module.name`` must be unique."""
        if not isinstance(function, HostFunction):
            raise PluginError(f"{self.current_plugin}: expected a HostFunction, got {function!r}")
        self._add(function.qualified_name, function)

    def functions(self) -> list[HostFunction]:
        """Every registered host function, in registration order."""
        return [e.value for e in self.entries()]


class CompilerRegistry(NamedRegistry[Compiler]):
    """Contract compilers: ``registry.add_compiler("solc", SolcCompiler())``."""

    def __init__(self) -> None:
        super().__init__("compiler")

    def add_compiler(self, name: str, compiler: Compiler) -> None:
        """Register a compiler; ``supervm compile`` picks it for the suffixes it handles."""
        if not isinstance(compiler, Compiler):
            raise PluginError(f"{self.current_plugin}: expected a Compiler, got {compiler!r}")
        self._add(name, compiler)

    def for_path(self, path: object) -> Entry[Compiler] | None:
        """The first compiler that handles ``path``, or ``None``."""
        for entry in self.entries():
            if entry.value.handles(path):  # type: ignore[arg-type]
                return entry
        return None


class CommandRegistry(NamedRegistry[click.Command]):
    """CLI commands: ``registry.add_command(cmd, group="bench")`` adds ``supervm bench NAME``."""

    def __init__(self) -> None:
        super().__init__("command")

    def add_command(self, command: click.Command, group: str = "") -> None:
        """Register a click command, at the top level or under ``group`` (e.g. ``bench``)."""
        if not command.name:
            raise PluginError(f"{self.current_plugin}: command has no name")
        self._add(f"{group} {command.name}".strip(), command)


class ServiceRegistry(NamedRegistry[Service]):
    """Long-running services: ``registry.add_service("txpool", TxPool(), after=("chain",))``."""

    def __init__(self) -> None:
        super().__init__("service")
        self._after: dict[str, tuple[str, ...]] = {}
        self._after_if_present: dict[str, tuple[str, ...]] = {}

    def add_service(
        self,
        name: str,
        service: Service,
        *,
        after: Sequence[str] = (),
        after_if_present: Sequence[str] = (),
    ) -> None:
        """Register a service instance; the host starts it after the services named in ``after``.

        Build the instance cheaply here and do the work (sockets, files, tasks) in its
        :meth:`~supervm.services.service.Service.start`.

        :param after: services that must be registered and start first.
        :param after_if_present: services that start first if some enabled plugin registered
            them, and are not needed otherwise (the JSON-RPC server after the pool, which a
            node may run without).
        """
        if not isinstance(service, Service):
            raise PluginError(f"{self.current_plugin}: expected a Service, got {service!r}")
        if isinstance(after, str) or isinstance(after_if_present, str):
            raise PluginError(f"{self.current_plugin}: after= takes a sequence of service names")
        self._add(name, service)
        self._after[name] = tuple(after)
        self._after_if_present[name] = tuple(after_if_present)

    def after(self, name: str) -> tuple[str, ...]:
        """The services ``name`` starts after (those ``after_if_present`` named only if they
        are registered)."""
        self.entry(name)
        return self._after[name] + tuple(n for n in self._after_if_present[name] if n in self)

    def start_order(self) -> list[Entry[Service]]:
        """The services in the order to start them (stop them in the reverse order).

        Registration order, except that a service comes after every service it names in
        ``after``.

        :raises ServiceError: if ``after`` names a service nobody registered, or the ``after``
            declarations form a cycle.
        """
        order: list[Entry[Service]] = []
        placed: set[str] = set()
        visiting: list[str] = []

        def visit(entry: Entry[Service]) -> None:
            if entry.name in placed:
                return
            if entry.name in visiting:
                cycle = " -> ".join([*visiting[visiting.index(entry.name) :], entry.name])
                raise ServiceError(f"services wait for each other: {cycle}")
            visiting.append(entry.name)
            for dependency in self.after(entry.name):
                if dependency not in self:
                    raise ServiceError(
                        f"service {entry.name!r} (plugin {entry.plugin}) starts after "
                        f"{dependency!r}, which no enabled plugin registered"
                    )
                visit(self.entry(dependency))
            visiting.pop()
            placed.add(entry.name)
            order.append(entry)

        for entry in self.entries():
            visit(entry)
        return order


class RpcMethodRegistry(NamedRegistry[RpcMethod]):
    """JSON-RPC methods by full name: ``registry.add_method("eth_chainId", chain_id)``."""

    def __init__(self) -> None:
        super().__init__("JSON-RPC method")

    def add_method(self, name: str, handler: RpcHandler) -> None:
        """Register ``handler(params, context)`` as the method ``name`` (``namespace_method``)."""
        if not isinstance(name, str) or not METHOD_NAME.fullmatch(name):
            raise PluginError(
                f"{self.current_plugin}: JSON-RPC method name {name!r} must be "
                "namespace_method, the namespace lower-case (eth_chainId)"
            )
        if not callable(handler):
            raise PluginError(f"{self.current_plugin}: handler for {name} is not callable")
        self._add(name, RpcMethod(name, handler))

    def namespaces(self) -> list[str]:
        """The namespaces that have at least one method, sorted."""
        return sorted({namespace_of(name) for name in self.names()})

    def methods(self, namespace: str) -> list[RpcMethod]:
        """The methods of ``namespace``, sorted by name."""
        return [self.get(n) for n in self.names() if namespace_of(n) == namespace]

    def find(self, name: str, namespaces: Iterable[str] | None = None) -> RpcMethod | None:
        """The method a request for ``name`` calls, or ``None`` (JSON-RPC "method not found").

        :param namespaces: the namespaces the server enables; ``None`` enables all of them.
        """
        entry = self._entries.get(name)
        if entry is None:
            return None
        if namespaces is not None and namespace_of(name) not in set(namespaces):
            return None
        return entry.value


class P2PHandlerRegistry(NamedRegistry[P2PHandler]):
    """Peer-to-peer message handlers by protocol id: ``registry.add_handler("eth/68", h)``."""

    def __init__(self) -> None:
        super().__init__("p2p protocol")

    def add_handler(self, protocol_id: str, handler: P2PHandler) -> None:
        """Register ``handler(message, context)`` for messages on ``protocol_id``."""
        if not isinstance(protocol_id, str) or not PROTOCOL_ID.fullmatch(protocol_id):
            raise PluginError(
                f"{self.current_plugin}: p2p protocol id {protocol_id!r} must be non-empty "
                "printable ASCII without spaces (/supervm/tx/1)"
            )
        if not callable(handler):
            raise PluginError(f"{self.current_plugin}: handler for {protocol_id} is not callable")
        self._add(protocol_id, handler)

    def protocols(self) -> list[str]:
        """The protocol ids that have a handler, sorted (what a node advertises)."""
        return self.names()

    def find(self, protocol_id: str) -> P2PHandler | None:
        """The handler of ``protocol_id``, or ``None`` if no plugin handles it."""
        entry = self._entries.get(protocol_id)
        return None if entry is None else entry.value


class MetricRegistry(NamedRegistry[Metric]):
    """Metric descriptions: ``registry.add_counter("supervm_txpool_rejected_total", "...")``."""

    def __init__(self) -> None:
        super().__init__("metric")

    def add_counter(self, name: str, help: str, *, labels: Sequence[str] = ()) -> Metric:
        """Declare a counter: a value that only goes up."""
        return self._declare(name, MetricKind.COUNTER, help, labels, ())

    def add_gauge(self, name: str, help: str, *, labels: Sequence[str] = ()) -> Metric:
        """Declare a gauge: a value that goes up and down."""
        return self._declare(name, MetricKind.GAUGE, help, labels, ())

    def add_histogram(
        self,
        name: str,
        help: str,
        *,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Metric:
        """Declare a histogram with the given bucket upper bounds (default: latencies in s)."""
        return self._declare(name, MetricKind.HISTOGRAM, help, labels, buckets)

    def metrics(self) -> list[Metric]:
        """Every declared metric, in declaration order."""
        return [e.value for e in self.entries()]

    def _declare(
        self,
        name: str,
        kind: MetricKind,
        help: str,
        labels: Sequence[str],
        buckets: Sequence[float],
    ) -> Metric:
        if isinstance(labels, str):
            raise PluginError(
                f"{self.current_plugin}: metric {name}: labels= takes a sequence of label names"
            )
        try:
            metric = Metric(name, kind, help, tuple(labels), tuple(float(b) for b in buckets))
        except MetricError as exc:
            raise PluginError(f"{self.current_plugin}: {exc}") from None
        self._add(name, metric)
        return metric
