"""Metrics declared through ``supervm_register_metrics`` and recorded through ``Metrics``."""

from __future__ import annotations

import threading

import pytest
from supervm import DuplicateNameError, Kernel, Metric, MetricKind, Metrics, PluginError, hookimpl
from supervm.plugins.registry import MetricRegistry
from supervm.services.metrics import DEFAULT_BUCKETS, MetricError, Series


class ChainMetrics:
    @hookimpl
    def supervm_register_metrics(self, registry: MetricRegistry) -> None:
        registry.add_counter(
            "supervm_chain_blocks_imported_total", "Blocks imported.", labels=("source",)
        )
        registry.add_gauge("supervm_txpool_pending", "Transactions waiting for a block.")
        registry.add_histogram(
            "supervm_chain_block_seconds", "Time to execute a block.", buckets=(0.1, 1, 10)
        )


def kernel_of(*plugins: tuple[str, object]) -> Kernel:
    return Kernel.from_plugins(discover=False, env={}, extra=plugins)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(kernel_of(("chain_metrics", ChainMetrics())).metrics().metrics())


def test_metrics_are_declared_with_kind_help_and_labels() -> None:
    registry = kernel_of(("chain_metrics", ChainMetrics())).metrics()
    assert [m.name for m in registry.metrics()] == [
        "supervm_chain_blocks_imported_total",
        "supervm_txpool_pending",
        "supervm_chain_block_seconds",
    ]
    assert registry.entry("supervm_txpool_pending").plugin == "chain_metrics"
    assert registry.get("supervm_chain_blocks_imported_total") == Metric(
        "supervm_chain_blocks_imported_total", MetricKind.COUNTER, "Blocks imported.", ("source",)
    )
    assert registry.get("supervm_chain_block_seconds").buckets == (0.1, 1.0, 10.0)


def test_histograms_default_to_latency_buckets() -> None:
    registry = MetricRegistry()
    metric = registry.add_histogram("supervm_rpc_seconds", "RPC latency.")
    assert metric.kind is MetricKind.HISTOGRAM and metric.buckets == DEFAULT_BUCKETS


def test_duplicate_metric_names_are_rejected_naming_both_plugins() -> None:
    with pytest.raises(DuplicateNameError) as info:
        kernel_of(("one", ChainMetrics()), ("two", ChainMetrics())).metrics()
    assert str(info.value) == (
        "metric 'supervm_chain_blocks_imported_total' registered twice: by one and by two"
    )


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda r: r.add_counter("2fast", "x"), "'2fast' must match"),
        (lambda r: r.add_counter("ok_total", " "), "help text must not be empty"),
        (lambda r: r.add_counter("bad_total\n", "x"), "must match"),
        (lambda r: r.add_gauge("g", "x", labels=("bad-label",)), "invalid label name 'bad-label'"),
        (lambda r: r.add_gauge("g", "x", labels=("__x",)), "invalid label name '__x'"),
        (lambda r: r.add_gauge("g", "x", labels=("a", "a")), "duplicate label names"),
        (lambda r: r.add_gauge("g", "x", labels="peer"), "labels= takes a sequence"),
        (lambda r: r.add_histogram("h", "x", buckets=(1, 1)), "strictly increasing"),
        (lambda r: r.add_histogram("h", "x", buckets=()), "a histogram needs buckets"),
        (lambda r: r.add_histogram("h", "x", labels=("le",)), "cannot have a label 'le'"),
    ],
)
def test_bad_declarations_are_plugin_errors(declare: object, message: str) -> None:
    class Bad:
        @hookimpl
        def supervm_register_metrics(self, registry: MetricRegistry) -> None:
            declare(registry)  # type: ignore[operator]

    with pytest.raises(PluginError, match=f"^bad: metric .*{message}"):
        kernel_of(("bad", Bad())).metrics()


def test_counters_and_gauges(metrics: Metrics) -> None:
    counter = "supervm_chain_blocks_imported_total"
    metrics.inc(counter, labels={"source": "p2p"})
    metrics.inc(counter, 2, labels={"source": "p2p"})
    metrics.inc(counter, labels={"source": "local"})
    assert metrics.value(counter, {"source": "p2p"}) == 3
    assert metrics.value(counter, {"source": "rpc"}) == 0
    metrics.set("supervm_txpool_pending", 12)
    metrics.inc("supervm_txpool_pending", -2)
    assert metrics.value("supervm_txpool_pending") == 10


def test_histograms_count_cumulatively(metrics: Metrics) -> None:
    for seconds in (0.05, 0.5, 0.7, 20):
        metrics.observe("supervm_chain_block_seconds", seconds)
    (series,) = [s for s in metrics.collect() if s.metric.kind is MetricKind.HISTOGRAM]
    assert (series.count, series.value, series.buckets) == (4, 21.25, (1, 3, 3))


def test_collect_lists_series_by_metric_then_labels(metrics: Metrics) -> None:
    counter = "supervm_chain_blocks_imported_total"
    metrics.set("supervm_txpool_pending", 1)
    metrics.inc(counter, labels={"source": "p2p"})
    metrics.inc(counter, labels={"source": "local"})
    collected = metrics.collect()
    assert [(s.metric.name, s.labels, s.value) for s in collected] == [
        (counter, ("local",), 1.0),
        (counter, ("p2p",), 1.0),
        ("supervm_txpool_pending", (), 1.0),
    ]
    assert isinstance(collected[0], Series)
    assert metrics.describe()[0].name == counter


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (lambda m: m.inc("supervm_unknown_total"), "'supervm_unknown_total' is not declared"),
        (lambda m: m.set("supervm_chain_block_seconds", 1), "is a histogram, not a gauge"),
        (lambda m: m.observe("supervm_txpool_pending", 1), "is a gauge, not a histogram"),
        (
            lambda m: m.inc("supervm_chain_blocks_imported_total", -1, {"source": "p2p"}),
            "cannot decrease",
        ),
        (
            lambda m: m.inc("supervm_chain_blocks_imported_total"),
            r"has labels \['source'\], got \[\]",
        ),
        (
            lambda m: m.set("supervm_txpool_pending", 1, {"peer": "x"}),
            r"has labels \[\], got \['peer'\]",
        ),
    ],
)
def test_recording_mistakes_are_metric_errors(
    metrics: Metrics, record: object, message: str
) -> None:
    with pytest.raises(MetricError, match=message):
        record(metrics)  # type: ignore[operator]


def test_recording_is_thread_safe(metrics: Metrics) -> None:
    counter = "supervm_chain_blocks_imported_total"

    def work() -> None:
        for _ in range(2000):
            metrics.inc(counter, labels={"source": "p2p"})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert metrics.value(counter, {"source": "p2p"}) == 8000
