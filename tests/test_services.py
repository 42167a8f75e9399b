"""Services registered through ``supervm_register_services`` and run by a ServiceHost.

Every test runs real asyncio services in a real event loop (``asyncio.run``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import pytest
from supervm import (
    DuplicateNameError,
    Kernel,
    Metrics,
    PluginError,
    Service,
    ServiceContext,
    ServiceError,
    ServiceHost,
    Stash,
    StashKey,
    hookimpl,
)
from supervm.plugins.registry import MetricRegistry, ServiceRegistry

Log = list[str]


class Recorder(Service):
    """Records ``start NAME`` and ``stop NAME`` in a shared log; optionally fails."""

    def __init__(
        self,
        log: Log,
        name: str,
        *,
        fail_start: Exception | None = None,
        fail_stop: Exception | None = None,
        on_start: Callable[[ServiceContext], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.log, self.name = log, name
        self.fail_start, self.fail_stop, self.on_start = fail_start, fail_stop, on_start
        self.context: ServiceContext | None = None

    async def start(self, context: ServiceContext) -> None:
        await asyncio.sleep(0)  # really asynchronous: yield to the loop
        self.context = context
        if self.on_start is not None:
            await self.on_start(context)
        if self.fail_start is not None:
            raise self.fail_start
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        await asyncio.sleep(0)
        self.log.append(f"stop {self.name}")
        if self.fail_stop is not None:
            raise self.fail_stop


class ServicesPlugin:
    """An inline plugin registering the services a test gives it, fresh on each call."""

    def __init__(self, make: Callable[[ServiceRegistry], None]) -> None:
        self.make = make

    @hookimpl
    def supervm_register_services(self, registry: ServiceRegistry) -> None:
        self.make(registry)


def kernel_with(*plugins: tuple[str, object]) -> Kernel:
    return Kernel.from_plugins(discover=False, env={}, extra=plugins)


def host_of(*services: Service | tuple[Service, Sequence[str]], **kwargs: Any) -> ServiceHost:
    """A host for ``services``, registered by the plugin ``p`` as ``s0``, ``s1``, ..."""

    def make(registry: ServiceRegistry) -> None:
        for i, item in enumerate(services):
            service, after = item if isinstance(item, tuple) else (item, ())
            registry.add_service(getattr(service, "name", f"s{i}"), service, after=after)

    return ServiceHost(kernel_with(("p", ServicesPlugin(make))), **kwargs)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 10))


# -- registration -------------------------------------------------------------------------------


def test_services_come_from_the_hook_fresh_on_each_call() -> None:
    log: Log = []
    made: list[Recorder] = []

    def make(registry: ServiceRegistry) -> None:
        made.append(Recorder(log, "rpc"))
        registry.add_service("rpc", made[-1])

    kernel = kernel_with(("rpc_plugin", ServicesPlugin(make)))
    first, second = kernel.services(), kernel.services()
    assert first.names() == ["rpc"]
    assert first.entry("rpc").plugin == "rpc_plugin"
    assert first.get("rpc") is made[0] and second.get("rpc") is made[1]
    info = {i.name: i for i in kernel.plugins.infos()}["rpc_plugin"]
    assert info.hooks == ("supervm_register_services",)


def test_duplicate_service_names_are_rejected_naming_both_plugins() -> None:
    log: Log = []
    one = ServicesPlugin(lambda r: r.add_service("txpool", Recorder(log, "a")))
    two = ServicesPlugin(lambda r: r.add_service("txpool", Recorder(log, "b")))
    kernel = kernel_with(("one", one), ("two", two))
    with pytest.raises(DuplicateNameError, match="service 'txpool' registered twice: by one and"):
        kernel.services()


def test_only_services_can_be_registered() -> None:
    kernel = kernel_with(("sloppy", ServicesPlugin(lambda r: r.add_service("x", object()))))  # type: ignore[arg-type]
    with pytest.raises(PluginError, match=r"^sloppy: expected a Service, got <object"):
        kernel.services()
    kernel = kernel_with(
        ("sloppy", ServicesPlugin(lambda r: r.add_service("x", Recorder([], "x"), after="db")))
    )
    with pytest.raises(PluginError, match="after= takes a sequence"):
        kernel.services()


# -- start and stop order -----------------------------------------------------------------------


def test_services_start_in_registration_order_and_stop_in_reverse() -> None:
    log: Log = []
    host = host_of(Recorder(log, "chain"), Recorder(log, "txpool"), Recorder(log, "rpc"))

    async def main() -> None:
        async with host:
            assert host.running == ["chain", "txpool", "rpc"]
            log.append("running")
        assert host.running == []

    run(main())
    assert log == [
        "start chain",
        "start txpool",
        "start rpc",
        "running",
        "stop rpc",
        "stop txpool",
        "stop chain",
    ]


def test_after_starts_a_service_after_its_dependencies() -> None:
    log: Log = []
    host = host_of(
        (Recorder(log, "rpc"), ["txpool"]),
        (Recorder(log, "txpool"), ["chain"]),
        Recorder(log, "metrics"),
        Recorder(log, "chain"),
    )
    assert [e.name for e in host.services.start_order()] == ["chain", "txpool", "rpc", "metrics"]
    assert host.services.after("rpc") == ("txpool",)
    run(host.start())
    assert log[-4:] == ["start chain", "start txpool", "start rpc", "start metrics"]


def test_unknown_dependency_fails_before_anything_starts() -> None:
    log: Log = []
    host = host_of(Recorder(log, "chain"), (Recorder(log, "rpc"), ["txpool"]))
    with pytest.raises(ServiceError) as info:
        run(host.start())
    assert str(info.value) == (
        "service 'rpc' (plugin p) starts after 'txpool', which no enabled plugin registered"
    )
    assert log == []


def test_after_if_present_orders_a_registered_service_and_ignores_an_absent_one() -> None:
    registry = ServiceRegistry()
    log: Log = []
    registry.current_plugin = "p"
    registry.add_service("rpc", Recorder(log, "rpc"), after=["chain"], after_if_present=["txpool"])
    registry.add_service("chain", Recorder(log, "chain"))
    assert [e.name for e in registry.start_order()] == ["chain", "rpc"]
    assert registry.after("rpc") == ("chain",)
    registry.add_service("txpool", Recorder(log, "txpool"), after=["chain"])
    assert [e.name for e in registry.start_order()] == ["chain", "txpool", "rpc"]
    assert registry.after("rpc") == ("chain", "txpool")


def test_circular_dependencies_are_named() -> None:
    log: Log = []
    host = host_of(
        (Recorder(log, "a"), ["b"]), (Recorder(log, "b"), ["c"]), (Recorder(log, "c"), ["a"])
    )
    with pytest.raises(ServiceError, match=r"^services wait for each other: a -> b -> c -> a$"):
        run(host.start())
    assert log == []


def test_a_host_starts_once() -> None:
    host = host_of(Recorder([], "a"))

    async def main() -> None:
        async with host:
            with pytest.raises(ServiceError, match="already been started"):
                await host.start()

    run(main())


# -- failures -----------------------------------------------------------------------------------


def test_a_failed_start_stops_the_started_services_in_reverse() -> None:
    log: Log = []
    cause = OSError("address already in use")
    host = host_of(
        Recorder(log, "chain"),
        Recorder(log, "txpool"),
        Recorder(log, "rpc", fail_start=cause),
        Recorder(log, "p2p"),
    )
    with pytest.raises(ServiceError) as info:
        run(host.run())
    assert str(info.value) == (
        "service 'rpc' (plugin p) failed to start: OSError: address already in use"
    )
    assert info.value.__cause__ is cause
    # The failed service is not stopped (it never started); p2p never starts.
    assert log == ["start chain", "start txpool", "stop txpool", "stop chain"]


def test_a_failing_task_stops_every_service_with_an_error_naming_it() -> None:
    log: Log = []

    async def crash_soon(context: ServiceContext) -> None:
        async def loop() -> None:
            await asyncio.sleep(0.01)
            raise ConnectionResetError("peer went away")

        context.spawn(loop(), name="p2p.accept")

    host = host_of(
        Recorder(log, "chain"), Recorder(log, "p2p", on_start=crash_soon), Recorder(log, "rpc")
    )
    with pytest.raises(ServiceError) as info:
        run(host.run())
    assert (
        str(info.value) == "service 'p2p' (plugin p) failed: ConnectionResetError: peer went away"
    )
    assert isinstance(info.value.__cause__, ConnectionResetError)
    assert log == ["start chain", "start p2p", "start rpc", "stop rpc", "stop p2p", "stop chain"]


def test_every_service_is_stopped_even_if_one_fails_to_stop() -> None:
    log: Log = []
    host = host_of(
        Recorder(log, "chain"),
        Recorder(log, "txpool", fail_stop=RuntimeError("pool busy")),
        Recorder(log, "rpc"),
    )

    async def main() -> None:
        await host.start()
        host.shutdown()
        with pytest.raises(ServiceError) as info:
            await host.stop()
        assert str(info.value) == (
            "service 'txpool' (plugin p) failed to stop: RuntimeError: pool busy"
        )

    run(main())
    assert log[-3:] == ["stop rpc", "stop txpool", "stop chain"]


def test_a_failure_to_stop_is_noted_on_the_error_that_caused_the_stop() -> None:
    log: Log = []
    host = host_of(
        Recorder(log, "chain", fail_stop=RuntimeError("disk gone")),
        Recorder(log, "rpc", fail_start=ValueError("bad port")),
    )
    with pytest.raises(
        ServiceError, match=r"'rpc' .* failed to start: ValueError: bad port"
    ) as info:
        run(host.run())
    assert info.value.__notes__ == [
        "while stopping the other services: service 'chain' (plugin p) failed to stop: "
        "RuntimeError: disk gone"
    ]


def test_a_hung_stop_is_abandoned_after_the_timeout() -> None:
    class Hangs(Recorder):
        async def stop(self) -> None:
            await asyncio.sleep(60)

    log: Log = []
    host = host_of(Recorder(log, "chain"), Hangs(log, "stuck"), stop_timeout=0.05)

    async def main() -> None:
        await host.start()
        with pytest.raises(ServiceError, match=r"'stuck' \(plugin p\) did not stop within 0.05 s"):
            await host.stop()

    run(main())
    assert log == ["start chain", "start stuck", "stop chain"]


# -- running ------------------------------------------------------------------------------------


def test_run_returns_after_shutdown_and_stops_everything() -> None:
    log: Log = []

    async def stop_later(context: ServiceContext) -> None:
        asyncio.get_running_loop().call_later(0.01, host.shutdown)

    host = host_of(Recorder(log, "chain"), Recorder(log, "rpc", on_start=stop_later))
    run(host.run())
    assert log == ["start chain", "start rpc", "stop rpc", "stop chain"]


def test_cancelling_run_stops_the_services() -> None:
    # What Ctrl-C does under asyncio.run: the main task is cancelled.
    log: Log = []
    host = host_of(Recorder(log, "chain"), Recorder(log, "rpc"))

    async def main() -> None:
        task = asyncio.create_task(host.run())
        while host.running != ["chain", "rpc"]:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert log == ["start chain", "start rpc", "stop rpc", "stop chain"]


def test_spawned_tasks_are_cancelled_after_their_service_stops() -> None:
    log: Log = []
    tasks: list[asyncio.Task[None]] = []

    async def serve(context: ServiceContext) -> None:
        async def forever() -> None:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                log.append("task cancelled")
                raise

        tasks.append(context.spawn(forever()))

    host = host_of(Recorder(log, "rpc", on_start=serve))

    async def main() -> None:
        async with host:
            await asyncio.sleep(0)
            assert tasks[0].get_name() == "rpc"  # named after the service by default
        assert tasks[0].cancelled()

    run(main())
    assert log == ["start rpc", "stop rpc", "task cancelled"]


def test_a_task_failing_while_its_service_stops_is_not_a_failure() -> None:
    log: Log = []

    class ClosesUnderItsTask(Recorder):
        async def start(self, context: ServiceContext) -> None:
            self.closed = asyncio.Event()

            async def read() -> None:
                await self.closed.wait()
                raise ConnectionError("socket closed")

            context.spawn(read())
            await super().start(context)

        async def stop(self) -> None:
            self.closed.set()
            await asyncio.sleep(0.01)  # the task fails now, while its service stops
            await super().stop()

    host = host_of(ClosesUnderItsTask(log, "p2p"))

    async def main() -> None:
        asyncio.get_running_loop().call_later(0.01, host.shutdown)
        await host.run()

    run(main())
    assert log == ["start p2p", "stop p2p"]


# -- the context --------------------------------------------------------------------------------

CHAIN = StashKey[list[int]]("chain")


def test_services_share_typed_objects_through_the_stash() -> None:
    seen: list[list[int]] = []

    async def provide(context: ServiceContext) -> None:
        context.stash[CHAIN] = [1, 2, 3]

    async def consume(context: ServiceContext) -> None:
        seen.append(context.stash[CHAIN])

    log: Log = []
    stash = Stash()
    host = host_of(
        (Recorder(log, "rpc", on_start=consume), ["chain"]),
        Recorder(log, "chain", on_start=provide),
        stash=stash,
    )
    run(host.start())
    assert seen == [[1, 2, 3]]
    assert host.stash is stash and stash[CHAIN] == [1, 2, 3]


def test_the_context_gives_the_kernel_the_name_and_the_metrics() -> None:
    class Declares:
        @hookimpl
        def supervm_register_metrics(self, registry: MetricRegistry) -> None:
            registry.add_counter("supervm_test_started_total", "Services started.")

    async def count(context: ServiceContext) -> None:
        context.metrics.inc("supervm_test_started_total")

    log: Log = []
    service = Recorder(log, "rpc", on_start=count)
    kernel = kernel_with(
        ("metrics", Declares()), ("p", ServicesPlugin(lambda r: r.add_service("rpc", service)))
    )
    host = ServiceHost(kernel)
    run(host.start())
    context = service.context
    assert context is not None
    assert context.kernel is kernel and context.name == "rpc"
    assert context.stash is host.stash and context.metrics is host.metrics
    assert host.metrics.value("supervm_test_started_total") == 1


def test_stash_basics() -> None:
    stash = Stash()
    key = StashKey[int]("height")
    assert key not in stash and len(stash) == 0
    assert stash.get(key) is None and stash.get(key, 7) == 7
    with pytest.raises(KeyError, match=r"nothing is stashed under StashKey\('height'\)"):
        stash[key]
    assert stash.setdefault(key, 1) == 1 and stash.setdefault(key, 2) == 1
    stash[key] = 5
    assert stash[key] == 5 and key in stash and len(stash) == 1
    # Keys compare by identity: another key with the same name is another slot.
    assert StashKey[int]("height") not in stash
    del stash[key]
    assert key not in stash


def test_spawn_needs_a_host() -> None:
    context = ServiceContext(kernel_with(), Stash(), Metrics())

    async def work() -> None:
        pass

    with pytest.raises(ServiceError, match="does not belong to a ServiceHost"):
        context.spawn(work(), name="orphan")


def test_a_failure_under_async_with_is_raised_when_the_block_ends() -> None:
    log: Log = []

    async def crash(context: ServiceContext) -> None:
        async def boom() -> None:
            raise RuntimeError("index corrupt")

        context.spawn(boom())

    host = host_of(Recorder(log, "chain"), Recorder(log, "indexer", on_start=crash))

    async def main() -> None:
        with pytest.raises(ServiceError, match=r"'indexer' \(plugin p\) failed: RuntimeError"):
            async with host:
                await asyncio.sleep(0.01)
        await host.stop()  # reported once: nothing left to raise

    run(main())
    assert log == ["start chain", "start indexer", "stop indexer", "stop chain"]


def test_shutdown_before_run_returns_right_after_start() -> None:
    log: Log = []
    host = host_of(Recorder(log, "chain"))
    host.shutdown()
    run(host.run())
    assert log == ["start chain", "stop chain"]
