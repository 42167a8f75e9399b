"""Typed registries: naming, duplicates, unknown names, defaults, host functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import supervm.builtins.scheduler_serial as scheduler_serial
from supervm import (
    DuplicateNameError,
    HostFunction,
    Kernel,
    PluginError,
    SchedulerSettings,
    Service,
    UnknownImplementationError,
    VMSettings,
    hookimpl,
)
from supervm.builtins.scheduler_serial import SerialScheduler
from supervm.plugins.registry import (
    HostFunctionRegistry,
    SchedulerRegistry,
    StorageRegistry,
    VMRegistry,
)


def kernel_of(*plugins: tuple[str, object], prefer: Sequence[str] = ()) -> Kernel:
    return Kernel.from_plugins(prefer, discover=False, env={}, extra=plugins)


def _noop(*args: Any, **kwargs: Any) -> Any:
    return object()


class Registers:
    """An inline plugin registering the given names in every area."""

    def __init__(
        self,
        *,
        storage: Sequence[str] = (),
        vm: Sequence[str] = (),
        scheduler: Sequence[str] = (),
        consensus: Sequence[str] = (),
        host: Sequence[HostFunction] = (),
    ) -> None:
        self.storage, self.vm, self.scheduler = storage, vm, scheduler
        self.consensus, self.host = consensus, host

    @hookimpl
    def supervm_register_storage(self, registry: StorageRegistry) -> None:
        for name in self.storage:
            registry.add_storage(name, _noop)

    @hookimpl
    def supervm_register_vm(self, registry: VMRegistry) -> None:
        for name in self.vm:
            registry.add_vm(name, _noop)

    @hookimpl
    def supervm_register_scheduler(self, registry: SchedulerRegistry) -> None:
        for name in self.scheduler:
            registry.add_scheduler(name, _noop)

    @hookimpl
    def supervm_register_consensus(self, registry: Any) -> None:
        for name in self.consensus:
            registry.add_consensus(name, _noop)

    @hookimpl
    def supervm_register_host_functions(self, registry: HostFunctionRegistry) -> None:
        for function in self.host:
            registry.add_host_function(function)


def host_fn(name: str, module: str = "supervm", **kwargs: Any) -> HostFunction:
    fields: dict[str, Any] = {"params": ("i32",), "results": ("i32",), "gas": 1}
    fields.update(kwargs)
    return HostFunction(name=name, impl=lambda env, x: x, module=module, **fields)


# -- duplicates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("area", "label"),
    [
        ("storage", "storage backend"),
        ("vm", "execution backend"),
        ("scheduler", "scheduler"),
        ("consensus", "consensus engine"),
    ],
)
def test_duplicate_names_are_rejected_naming_both_plugins(area: str, label: str) -> None:
    names: dict[str, Any] = {area: ["same"]}
    with pytest.raises(DuplicateNameError) as info:
        kernel_of(("first_plugin", Registers(**names)), ("second_plugin", Registers(**names)))
    assert (
        str(info.value) == f"{label} 'same' registered twice: by first_plugin and by second_plugin"
    )


class RegistersLater:
    """An inline plugin filling the registries the kernel builds on demand."""

    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def supervm_register_services(self, registry: Any) -> None:
        registry.add_service(self.name, _Idle())

    @hookimpl
    def supervm_register_rpc_methods(self, registry: Any) -> None:
        registry.add_method(f"test_{self.name}", _noop)

    @hookimpl
    def supervm_register_p2p_handlers(self, registry: Any) -> None:
        registry.add_handler(f"/test/{self.name}/1", _noop)

    @hookimpl
    def supervm_register_metrics(self, registry: Any) -> None:
        registry.add_counter(f"supervm_{self.name}_total", "A test counter.")


class _Idle(Service):
    async def start(self, context: Any) -> None:
        pass

    async def stop(self) -> None:
        pass


@pytest.mark.parametrize(
    ("method", "label", "name"),
    [
        ("services", "service", "same"),
        ("rpc_methods", "JSON-RPC method", "test_same"),
        ("p2p_handlers", "p2p protocol", "/test/same/1"),
        ("metrics", "metric", "supervm_same_total"),
    ],
)
def test_duplicates_in_on_demand_registries_name_both_plugins(
    method: str, label: str, name: str
) -> None:
    kernel = kernel_of(
        ("first_plugin", RegistersLater("same")), ("second_plugin", RegistersLater("same"))
    )
    with pytest.raises(DuplicateNameError) as info:
        getattr(kernel, method)()
    assert str(info.value) == (
        f"{label} {name!r} registered twice: by first_plugin and by second_plugin"
    )


@pytest.mark.parametrize("method", ["services", "rpc_methods", "p2p_handlers", "metrics"])
def test_on_demand_registries_are_fresh_and_remember_the_plugin(method: str) -> None:
    kernel = kernel_of(("a", RegistersLater("x")), ("b", RegistersLater("y")))
    first, second = getattr(kernel, method)(), getattr(kernel, method)()
    assert first is not second and len(first) == len(second) == 2
    assert [e.plugin for e in first.entries()] == ["a", "b"]
    assert first.current_plugin == "<unknown>"


def test_duplicate_name_within_one_plugin_is_rejected() -> None:
    with pytest.raises(DuplicateNameError, match="by solo and by solo"):
        kernel_of(("solo", Registers(vm=["x", "x"])))


def test_duplicate_host_function_is_rejected_by_qualified_name() -> None:
    with pytest.raises(DuplicateNameError) as info:
        kernel_of(("one", Registers(host=[host_fn("f")])), ("two", Registers(host=[host_fn("f")])))
    assert "host function 'supervm.f' registered twice: by one and by two" in str(info.value)


def test_same_host_function_name_in_two_modules_is_fine() -> None:
    kernel = kernel_of(("p", Registers(host=[host_fn("f"), host_fn("f", module="env")])))
    assert kernel.host_function_registry.names() == ["env.f", "supervm.f"]


def test_same_name_in_different_areas_is_fine() -> None:
    kernel = kernel_of(("p", Registers(storage=["x"], vm=["x"], scheduler=["x"], consensus=["x"])))
    assert "x" in kernel.storages and "x" in kernel.vms
    assert "x" in kernel.schedulers and "x" in kernel.consensus_engines


def test_empty_name_is_rejected_naming_the_plugin() -> None:
    with pytest.raises(PluginError, match=r"^sloppy: storage backend name must be a non-empty"):
        kernel_of(("sloppy", Registers(storage=[""])))


# -- lookups -----------------------------------------------------------------------------------


def test_unknown_name_lists_the_available_ones() -> None:
    kernel = kernel_of(("p", Registers(vm=["zeta", "alpha"])))
    with pytest.raises(UnknownImplementationError) as info:
        kernel.vms.get("nope")
    assert str(info.value) == "no execution backend named 'nope' (available: alpha, zeta)"


def test_unknown_name_with_nothing_registered() -> None:
    kernel = kernel_of()
    with pytest.raises(UnknownImplementationError, match=r"\(available: none\)"):
        kernel.open_storage("lmdb")


@pytest.mark.parametrize(
    ("method", "label"),
    [
        ("open_storage", "storage backend"),
        ("vm", "execution backend"),
        ("scheduler", "scheduler"),
        ("consensus", "consensus engine"),
    ],
)
def test_kernel_accessors_report_unknown_names(method: str, label: str) -> None:
    kernel = kernel_of(
        ("p", Registers(storage=["s1"], vm=["v1"], scheduler=["c1"], consensus=["k1"]))
    )
    with pytest.raises(UnknownImplementationError, match=f"no {label} named 'missing'"):
        getattr(kernel, method)("missing")


def test_entries_remember_the_registering_plugin() -> None:
    kernel = kernel_of(("a", Registers(storage=["s2", "s1"])), ("b", Registers(storage=["s0"])))
    assert [(e.name, e.plugin) for e in kernel.storages.entries()] == [
        ("s2", "a"),
        ("s1", "a"),
        ("s0", "b"),
    ]
    assert kernel.storages.names() == ["s0", "s1", "s2"]
    assert len(kernel.storages) == 3
    assert kernel.storages.entry("s0").plugin == "b"


def test_plugin_exception_becomes_plugin_error() -> None:
    class Broken:
        @hookimpl
        def supervm_register_storage(self, registry: StorageRegistry) -> None:
            raise RuntimeError("no disk")

    with pytest.raises(PluginError) as info:
        kernel_of(("broken", Broken()))
    assert (
        str(info.value)
        == "plugin 'broken' failed in supervm_register_storage: RuntimeError: no disk"
    )


def test_current_plugin_is_reset_after_each_hook() -> None:
    kernel = kernel_of(("a", Registers(storage=["s"])))
    assert kernel.storages.current_plugin == "<unknown>"


# -- default names -----------------------------------------------------------------------------


def test_builtin_default_wins_without_preference() -> None:
    kernel = kernel_of(
        ("scheduler_serial", scheduler_serial), ("fancy", Registers(scheduler=["z"]))
    )
    assert kernel.default_name("scheduler") == "serial"
    assert isinstance(kernel.scheduler(), SerialScheduler)


def test_the_only_implementation_is_the_default() -> None:
    kernel = kernel_of(("p", Registers(storage=["disk"], consensus=["raft"])))
    assert kernel.default_name("storage") == "disk"
    assert kernel.default_name("consensus") == "raft"


def test_builtin_default_name_is_returned_when_ambiguous_or_empty() -> None:
    kernel = kernel_of(("p", Registers(vm=["evm", "risc"])))
    assert kernel.default_name("vm") == "wasm"
    assert kernel.default_name("storage") == "memory"
    with pytest.raises(UnknownImplementationError, match=r"available: evm, risc"):
        kernel.vm()


def test_preferred_plugin_wins() -> None:
    class Fancy(SerialScheduler):
        pass

    class FancyPlugin:
        @hookimpl
        def supervm_register_scheduler(self, registry: SchedulerRegistry) -> None:
            registry.add_scheduler("fancy", Fancy)

    plugins = [("scheduler_serial", scheduler_serial), ("fancy_plugin", FancyPlugin())]
    assert kernel_of(*plugins).default_name("scheduler") == "serial"
    kernel = kernel_of(*plugins, prefer=["fancy_plugin"])
    assert kernel.default_name("scheduler") == "fancy"
    assert isinstance(kernel.scheduler(), Fancy)
    # An explicit name still picks any registered implementation.
    assert type(kernel.scheduler("serial")) is SerialScheduler


def test_first_preferred_plugin_with_a_registration_wins() -> None:
    kernel = kernel_of(
        ("storage_only", Registers(storage=["s"])),
        ("b", Registers(scheduler=["b1", "b2"])),
        ("c", Registers(scheduler=["c1"])),
        prefer=["storage_only", "c", "b"],
    )
    assert kernel.default_name("scheduler") == "c1"
    assert kernel.default_name("storage") == "s"


def test_preferred_plugin_without_a_registration_falls_back() -> None:
    kernel = kernel_of(
        ("scheduler_serial", scheduler_serial),
        ("other", Registers(scheduler=["other"], storage=["x"])),
        ("storage_only", Registers(storage=["y"])),
        prefer=["storage_only"],
    )
    assert kernel.default_name("scheduler") == "serial"
    assert kernel.default_name("storage") == "y"


def test_scheduler_factory_receives_settings() -> None:
    kernel = kernel_of(("scheduler_serial", scheduler_serial))
    settings = SchedulerSettings(workers=3)
    scheduler = kernel.scheduler(settings=settings)
    assert isinstance(scheduler, SerialScheduler)
    assert scheduler.settings is settings


# -- host functions ----------------------------------------------------------------------------


def test_host_function_signature_and_name() -> None:
    f = HostFunction("hash", ("i32", "i64"), ("i32",), 30, impl=_noop, doc="hash it")
    assert f.qualified_name == "supervm.hash"
    assert f.signature == "(i32, i64) -> i32"
    g = HostFunction("tick", (), (), 0, impl=_noop, module="env")
    assert g.qualified_name == "env.tick"
    assert g.signature == "() -> ()"


def test_host_function_rejects_more_than_one_result() -> None:
    with pytest.raises(ValueError, match="host function two: at most one result"):
        HostFunction("two", (), ("i32", "i32"), 1, impl=_noop)


@pytest.mark.parametrize("bad", [("f32",), ("i32", "externref")])
def test_host_function_rejects_unsupported_types(bad: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="unsupported type"):
        HostFunction("f", bad, (), 1, impl=_noop)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unsupported type"):
        HostFunction("f", (), bad[-1:], 1, impl=_noop)  # type: ignore[arg-type]


def test_host_function_equality_ignores_the_implementation() -> None:
    assert HostFunction("f", (), (), 1, impl=_noop) == HostFunction("f", (), (), 1, impl=print)


def test_registry_rejects_non_host_functions() -> None:
    class Wrong:
        @hookimpl
        def supervm_register_host_functions(self, registry: HostFunctionRegistry) -> None:
            registry.add_host_function(("supervm", "f"))  # type: ignore[arg-type]

    with pytest.raises(PluginError, match=r"^wrong: expected a HostFunction"):
        kernel_of(("wrong", Wrong()))


def test_host_functions_keep_registration_order_and_reach_every_vm() -> None:
    seen: list[tuple[VMSettings, list[HostFunction]]] = []

    class Backend:
        def bind_dispatcher(self, dispatcher: object) -> None:
            self.dispatcher = dispatcher

    def factory(settings: VMSettings, host_functions: Sequence[HostFunction]) -> Any:
        seen.append((settings, list(host_functions)))
        return Backend()

    class VMPlugin:
        @hookimpl
        def supervm_register_vm(self, registry: VMRegistry) -> None:
            registry.add_vm("v", factory)

    a, b, c = host_fn("a"), host_fn("b"), host_fn("c", module="env")
    kernel = kernel_of(
        ("first", Registers(host=[b, a])), ("vm", VMPlugin()), ("second", Registers(host=[c]))
    )
    assert kernel.host_functions() == [b, a, c]
    assert kernel.host_function_registry.entry("env.c").plugin == "second"

    backend = kernel.vm("v")
    assert seen == [(VMSettings(), [b, a, c])]
    # Built once per (name, settings) and reused.
    assert kernel.vm("v") is backend
    assert kernel.vm("v", VMSettings()) is backend
    other = kernel.vm("v", VMSettings(options={"opt": "1"}))
    assert other is not backend
    assert len(seen) == 2


def test_vm_settings_are_hashable_with_options() -> None:
    # Kernel.vm caches backends by (name, settings), so settings must be hashable.
    with_options = VMSettings(options={"fuel": "on"})
    assert hash(with_options) == hash(VMSettings(options={"fuel": "on"}))
    assert with_options != VMSettings()
    cache = {VMSettings(): 1, with_options: 2}
    assert cache[VMSettings(options={"fuel": "on"})] == 2
