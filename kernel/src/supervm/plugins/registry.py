"""Typed registries that register-style hooks fill.

A plugin never replaces a kernel object: it adds named candidates to a registry, and the kernel
chooses one by name from configuration. Duplicate names are rejected, naming both plugins.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

import attrs
import click

from supervm.chain.consensus import ConsensusFactory
from supervm.errors import DuplicateNameError, PluginError, UnknownImplementationError
from supervm.execution.host import HostFunction
from supervm.execution.interfaces import SchedulerFactory, VMFactory
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
