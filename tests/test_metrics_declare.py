"""``Metrics.declare``: metrics whose names are known only at run time.

The JSON-RPC server declares one duration histogram per method as geth names them
(``rpc_duration_eth_call_success``), once the method is first called; these tests hold the
rules it relies on: a run-time declaration records and collects like a registered one, the same
description twice is harmless, a different one under a taken name is refused and changes
nothing, and declaring races with recording safely.
"""

from __future__ import annotations

import asyncio
import threading

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from supervm import (
    Kernel,
    Metric,
    MetricKind,
    Metrics,
    Service,
    ServiceContext,
    ServiceHost,
    hookimpl,
)
from supervm.plugins.registry import MetricRegistry, ServiceRegistry
from supervm.services.metrics import MetricError

REQUESTS = Metric("rpc_requests", MetricKind.COUNTER, "JSON-RPC calls received.")
ETH_CALL = Metric(
    "rpc_duration_eth_call_success",
    MetricKind.HISTOGRAM,
    "Seconds answering successful eth_call calls.",
    buckets=(0.01, 0.1, 1.0),
)


def test_a_declared_metric_records_and_collects_after_the_registered_ones() -> None:
    metrics = Metrics([REQUESTS])
    metrics.declare(ETH_CALL)
    assert metrics.describe() == [REQUESTS, ETH_CALL]
    metrics.inc("rpc_requests")
    for seconds in (0.005, 0.05, 5.0):
        metrics.observe("rpc_duration_eth_call_success", seconds)
    requests, eth_call = metrics.collect()
    assert (requests.metric, requests.value) == (REQUESTS, 1.0)
    assert eth_call.metric == ETH_CALL
    assert (eth_call.count, eth_call.value, eth_call.buckets) == (3, 5.055, (1, 2, 2))


def test_recording_an_undeclared_name_fails_until_it_is_declared() -> None:
    metrics = Metrics()
    with pytest.raises(MetricError, match="'rpc_duration_eth_call_success' is not declared"):
        metrics.observe("rpc_duration_eth_call_success", 0.1)
    metrics.declare(ETH_CALL)
    metrics.observe("rpc_duration_eth_call_success", 0.1)
    assert [s.count for s in metrics.collect()] == [1]


def test_declaring_the_same_description_again_keeps_the_values() -> None:
    metrics = Metrics([REQUESTS])
    metrics.declare(ETH_CALL)
    metrics.observe("rpc_duration_eth_call_success", 0.5)
    metrics.inc("rpc_requests", 4)
    # An equal description built anew, as a second caller of the same method would.
    metrics.declare(attrs.evolve(ETH_CALL))
    metrics.declare(REQUESTS)
    assert metrics.describe() == [REQUESTS, ETH_CALL]
    assert metrics.value("rpc_requests") == 4
    assert [s.count for s in metrics.collect() if s.metric == ETH_CALL] == [1]


@pytest.mark.parametrize(
    "other",
    [
        Metric("rpc_requests", MetricKind.GAUGE, "JSON-RPC calls received."),
        Metric("rpc_requests", MetricKind.COUNTER, "Another text."),
        Metric("rpc_requests", MetricKind.COUNTER, "JSON-RPC calls received.", ("method",)),
        Metric(
            "rpc_requests",
            MetricKind.HISTOGRAM,
            "JSON-RPC calls received.",
            buckets=(1.0,),
        ),
    ],
    ids=["kind", "help", "labels", "histogram"],
)
def test_another_description_under_a_taken_name_is_refused(other: Metric) -> None:
    metrics = Metrics([REQUESTS])
    metrics.inc("rpc_requests", 2)
    with pytest.raises(MetricError, match=r"^metric rpc_requests is declared already, as Metric"):
        metrics.declare(other)
    assert metrics.describe() == [REQUESTS]
    assert metrics.value("rpc_requests") == 2


def test_a_run_time_declaration_is_also_final() -> None:
    metrics = Metrics()
    metrics.declare(ETH_CALL)
    with pytest.raises(MetricError, match="declared already"):
        metrics.declare(attrs.evolve(ETH_CALL, buckets=(0.5, 5.0)))
    assert metrics.describe() == [ETH_CALL]


def test_a_bad_description_is_refused_before_it_reaches_declare() -> None:
    with pytest.raises(MetricError, match="a histogram needs buckets"):
        Metric("rpc_duration_eth_call_success", MetricKind.HISTOGRAM, "x")


names = st.sampled_from(["a_total", "b", "c_seconds"])
kinds = st.sampled_from([MetricKind.COUNTER, MetricKind.GAUGE])
helps = st.sampled_from(["One.", "Two."])


@given(st.lists(st.tuples(names, kinds, helps), max_size=12))
def test_declarations_match_a_first_wins_model(
    declarations: list[tuple[str, MetricKind, str]],
) -> None:
    metrics = Metrics()
    model: dict[str, Metric] = {}
    for name, kind, help in declarations:
        metric = Metric(name, kind, help)
        known = model.get(name)
        if known is None or known == metric:
            metrics.declare(metric)
            model.setdefault(name, metric)
        else:
            with pytest.raises(MetricError):
                metrics.declare(metric)
    assert metrics.describe() == list(model.values())


def test_threads_declaring_and_recording_the_same_metric_lose_nothing() -> None:
    metrics = Metrics()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for i in range(200):
                # Each call declares the method's metric first, as the RPC server does.
                metrics.declare(attrs.evolve(ETH_CALL))
                metrics.observe("rpc_duration_eth_call_success", 0.05)
                metrics.declare(
                    Metric(f"rpc_duration_m{i}_success", MetricKind.HISTOGRAM, "x", buckets=(1.0,))
                )
                metrics.observe(f"rpc_duration_m{i}_success", 2.0)
                metrics.collect()
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(metrics.describe()) == 201
    by_name = {s.metric.name: s for s in metrics.collect()}
    assert by_name["rpc_duration_eth_call_success"].count == 1600
    assert {by_name[f"rpc_duration_m{i}_success"].buckets for i in range(200)} == {(0,)}
    assert {by_name[f"rpc_duration_m{i}_success"].count for i in range(200)} == {8}


class _Declares(Service):
    """Declares and records a metric when it starts, as the RPC server does per method."""

    async def start(self, context: ServiceContext) -> None:
        context.metrics.declare(ETH_CALL)
        context.metrics.observe("rpc_duration_eth_call_success", 0.2)

    async def stop(self) -> None:
        pass


class _Plugin:
    @hookimpl
    def supervm_register_metrics(self, registry: MetricRegistry) -> None:
        registry.add_counter("rpc_requests", "JSON-RPC calls received.")

    @hookimpl
    def supervm_register_services(self, registry: ServiceRegistry) -> None:
        registry.add_service("rpc", _Declares())


def test_a_service_declares_into_the_hosts_metrics() -> None:
    kernel = Kernel.from_plugins(discover=False, env={}, extra=[("rpc", _Plugin())])
    host = ServiceHost(kernel)

    async def run() -> None:
        await host.start()
        await host.stop()

    asyncio.run(run())
    assert [m.name for m in host.metrics.describe()] == [
        "rpc_requests",
        "rpc_duration_eth_call_success",
    ]
    # The kernel's registry is untouched: the next host starts from the declared metrics only.
    assert [m.name for m in kernel.metrics().metrics()] == ["rpc_requests"]
    assert [s.count for s in host.metrics.collect() if s.metric == ETH_CALL] == [1]
