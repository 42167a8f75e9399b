"""The translation of the kernel's Metrics into Prometheus families, without HTTP.

Each test renders with prometheus_client's ``generate_latest`` and parses the text back, so
what is checked is what a scraper reads.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from supervm import Metric, MetricKind, Metrics
from supervm_metrics import SeriesCollector, build_registry, endpoint_url

BUCKETS = (0.01, 0.1, 1.0, 10.0)


def render(metrics: Metrics, reserved: frozenset[str] = frozenset()) -> str:
    registry = CollectorRegistry()
    registry.register(SeriesCollector(metrics, reserved))
    return generate_latest(registry).decode()


def sample_names(text: str) -> list[str]:
    return [s.name for f in text_string_to_metric_families(text) for s in f.samples]


def test_unlabelled_metrics_are_exported_at_zero_and_labelled_ones_once_recorded() -> None:
    metrics = Metrics(
        [
            Metric("rpc_success", MetricKind.COUNTER, "Calls answered with a result."),
            Metric("txpool_queued", MetricKind.GAUGE, "Transactions behind a nonce gap."),
            Metric("chain_block_commit_seconds", MetricKind.HISTOGRAM, "Commit.", buckets=(1.0,)),
            Metric("peers", MetricKind.GAUGE, "Peers.", labels=("direction",)),
        ]
    )
    text = render(metrics)
    got = {
        (s.name, tuple(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert got == {
        ("rpc_success", ()): 0,
        ("txpool_queued", ()): 0,
        ("chain_block_commit_seconds_bucket", (("le", "1.0"),)): 0,
        ("chain_block_commit_seconds_bucket", (("le", "+Inf"),)): 0,
        ("chain_block_commit_seconds_count", ()): 0,
        ("chain_block_commit_seconds_sum", ()): 0,
    }
    assert "# TYPE peers gauge" in text  # the family is described, without samples yet
    metrics.set("peers", 3, {"direction": "inbound"})
    assert ("peers", {"direction": "inbound"}, 3) in [
        (s.name, s.labels, s.value)
        for f in text_string_to_metric_families(render(metrics))
        for s in f.samples
    ]


def test_families_come_in_declaration_order_with_run_time_ones_last() -> None:
    metrics = Metrics(
        [
            Metric("txpool_pending", MetricKind.GAUGE, "Pending."),
            Metric("chain_head_block", MetricKind.GAUGE, "Head."),
        ]
    )
    metrics.declare(
        Metric("rpc_duration_eth_chainId_success", MetricKind.HISTOGRAM, "x", buckets=(1.0,))
    )
    names = [f.name for f in text_string_to_metric_families(render(metrics))]
    assert names == ["txpool_pending", "chain_head_block", "rpc_duration_eth_chainId_success"]


label_text = st.text(st.characters(codec="utf-8"), max_size=20)


@given(st.lists(label_text, min_size=1, max_size=5, unique=True))
def test_label_values_survive_the_text_format(values: list[str]) -> None:
    metrics = Metrics([Metric("txpool_rejected_total", MetricKind.COUNTER, "R.", ("reason",))])
    for i, value in enumerate(values, 1):
        metrics.inc("txpool_rejected_total", i, {"reason": value})
    (family,) = text_string_to_metric_families(render(metrics))
    assert {s.labels["reason"]: s.value for s in family.samples} == {
        v: i for i, v in enumerate(values, 1)
    }


observations = st.lists(
    st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False), max_size=40
)


@given(observations)
def test_histogram_buckets_count_every_observation_at_or_below_their_bound(
    values: list[float],
) -> None:
    metrics = Metrics(
        [Metric("chain_block_execution_seconds", MetricKind.HISTOGRAM, "E.", buckets=BUCKETS)]
    )
    for v in values:
        metrics.observe("chain_block_execution_seconds", v)
    (family,) = text_string_to_metric_families(render(metrics))
    assert family.type == "histogram"
    buckets = {
        s.labels["le"]: s.value
        for s in family.samples
        if s.name == "chain_block_execution_seconds_bucket"
    }
    expected = {str(b): sum(v <= b for v in values) for b in BUCKETS}
    expected["+Inf"] = len(values)
    assert buckets == expected
    (count,) = [s.value for s in family.samples if s.name.endswith("_count")]
    (total,) = [s.value for s in family.samples if s.name.endswith("_sum")]
    assert count == len(values)
    assert total == pytest.approx(sum(values))


def test_counters_keep_their_declared_names() -> None:
    metrics = Metrics(
        [
            Metric("chain_transactions_total", MetricKind.COUNTER, "Transactions."),
            Metric("rpc_requests", MetricKind.COUNTER, "Calls."),
        ]
    )
    metrics.inc("chain_transactions_total", 5)
    metrics.inc("rpc_requests", 2)
    text = render(metrics)
    assert "# TYPE chain_transactions_total counter\nchain_transactions_total 5.0\n" in text
    assert "# TYPE rpc_requests gauge\nrpc_requests 2.0\n" in text


def test_a_gauge_and_a_total_counter_of_one_stem_are_both_exported() -> None:
    metrics = Metrics(
        [
            Metric("peers", MetricKind.GAUGE, "Peers now."),
            Metric("peers_total", MetricKind.COUNTER, "Peers ever."),
        ]
    )
    assert sample_names(render(metrics)) == ["peers", "peers_total"]


def test_a_metric_repeating_another_ones_series_is_left_out_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics(
        [
            Metric("rpc_duration_eth_call_success", MetricKind.HISTOGRAM, "D.", buckets=(1.0,)),
            Metric("rpc_duration_eth_call_success_count", MetricKind.GAUGE, "Clashes."),
            Metric("process_cpu_seconds_total", MetricKind.COUNTER, "Clashes with process."),
        ]
    )
    registry = build_registry(metrics)
    with caplog.at_level(logging.WARNING, logger="supervm.metrics"):
        first = generate_latest(registry).decode()
        generate_latest(registry)
    names = Counter(sample_names(first))
    assert names["rpc_duration_eth_call_success_count"] == 1
    assert names["process_cpu_seconds_total"] == 1
    assert "Clashes" not in first
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "metric rpc_duration_eth_call_success_count is not exported: its series "
        "rpc_duration_eth_call_success_count are another metric's",
        "metric process_cpu_seconds_total is not exported: its series "
        "process_cpu_seconds_total are another metric's",
    ]


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:6060/metrics"),
        ("localhost", "http://localhost:6060/metrics"),
        ("::1", "http://[::1]:6060/metrics"),
    ],
)
def test_endpoint_urls(host: str, url: str) -> None:
    assert endpoint_url(host, 6060) == url


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_exposition() -> None:
    metrics = Metrics(
        [
            Metric("chain_head_block", MetricKind.GAUGE, "Head."),
            Metric("chain_blocks_sealed_total", MetricKind.COUNTER, "Sealed."),
            Metric("rpc_requests", MetricKind.COUNTER, "Calls."),
            Metric("chain_block_execution_seconds", MetricKind.HISTOGRAM, "E.", buckets=BUCKETS),
            Metric("txpool_rejected_total", MetricKind.COUNTER, "R.", ("reason",)),
        ]
    )
    metrics.observe("chain_block_execution_seconds", 0.2)
    metrics.inc("txpool_rejected_total", labels={"reason": 'say "no"\n'})
    text = generate_latest(build_registry(metrics))
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
