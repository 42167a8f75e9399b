"""The ``metrics`` service, run by a real ServiceHost and scraped over HTTP.

Each test starts the service the plugin registers, on port 0, records values through the
host's ``Metrics`` the way the node's services do, scrapes ``/metrics`` with urllib and parses
the answer with prometheus_client's own parsers.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import supervm_metrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from supervm import Kernel, Metric, MetricKind, ServiceError, ServiceHost, Stash, hookimpl
from supervm.node.config import NodeConfig
from supervm.node.keys import CONFIG, ENDPOINTS
from supervm.plugins.registry import MetricRegistry
from supervm_metrics import METRICS_SERVICE, MetricsExporter

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class NodeMetrics:
    """Stands in for the plugins that declare the node's metrics (the kernel's node, mempool)."""

    @hookimpl
    def supervm_register_metrics(self, registry: MetricRegistry) -> None:
        registry.add_gauge("chain_head_block", "Number of the canonical head block.")
        registry.add_counter("chain_blocks_sealed_total", "Blocks this node sealed.")
        registry.add_histogram(
            "chain_block_execution_seconds", "Seconds executing a block.", buckets=(0.01, 0.1, 1)
        )
        registry.add_counter("rpc_requests", "JSON-RPC calls received.")
        registry.add_counter("rpc_failure", "JSON-RPC calls answered with an error.")
        registry.add_counter(
            "txpool_rejected_total", "Transactions the pool refused.", labels=("reason",)
        )


def kernel() -> Kernel:
    return Kernel.from_plugins(
        discover=False, env={}, extra=[("metrics", supervm_metrics), ("node", NodeMetrics())]
    )


def host_with(config: NodeConfig | None) -> ServiceHost:
    stash = Stash()
    if config is not None:
        stash[CONFIG] = config
    return ServiceHost(kernel(), stash=stash)


def run(host: ServiceHost, body: Callable[[ServiceHost], Awaitable[None]]) -> None:
    """Start ``host``, run ``body``, stop the host whatever happened."""

    async def main() -> None:
        await host.start()
        try:
            await body(host)
        finally:
            await host.stop()

    asyncio.run(main())


async def scrape(url: str, accept: str | None = None) -> tuple[str, str]:
    """The body and content type of a GET, from a thread: the server must not need the loop."""

    def get() -> tuple[str, str]:
        request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode(), response.headers["Content-Type"]

    return await asyncio.to_thread(get)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text scrape: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def record(host: ServiceHost) -> None:
    metrics = host.metrics
    metrics.set("chain_head_block", 42)
    metrics.inc("chain_blocks_sealed_total", 3)
    metrics.inc("rpc_requests", 7)
    for seconds in (0.004, 0.05, 0.07, 3.0):
        metrics.observe("chain_block_execution_seconds", seconds)
    metrics.inc("txpool_rejected_total", labels={"reason": "nonce too low"})
    metrics.inc("txpool_rejected_total", 2, labels={"reason": "txpool is full"})


def test_the_plugin_registers_the_metrics_service() -> None:
    entry = kernel().services().entry(METRICS_SERVICE)
    assert entry.plugin == "metrics"
    assert isinstance(entry.value, MetricsExporter)


def test_a_scrape_has_every_metric_under_its_declared_name_and_type() -> None:
    def check(text: str) -> None:
        types = {f.name: f.type for f in text_string_to_metric_families(text)}
        # The parser names a counter family without "_total", as prometheus_client does.
        assert types["chain_head_block"] == "gauge"
        assert types["chain_blocks_sealed"] == "counter"
        assert types["chain_block_execution_seconds"] == "histogram"
        assert types["rpc_requests"] == "gauge"  # geth's counters are gauges
        assert types["rpc_duration_eth_call_success"] == "histogram"
        assert "rpc_requests_total" not in text
        got = samples(text)
        assert got[("chain_head_block", ())] == 42
        assert got[("chain_blocks_sealed_total", ())] == 3
        assert got[("rpc_requests", ())] == 7
        assert got[("rpc_failure", ())] == 0  # declared, never recorded: exported at 0
        assert got[("txpool_rejected_total", (("reason", "nonce too low"),))] == 1
        assert got[("txpool_rejected_total", (("reason", "txpool is full"),))] == 2
        execution = {
            le: got[("chain_block_execution_seconds_bucket", (("le", le),))]
            for le in ("0.01", "0.1", "1.0", "+Inf")
        }
        assert execution == {"0.01": 1, "0.1": 3, "1.0": 3, "+Inf": 4}
        assert got[("chain_block_execution_seconds_count", ())] == 4
        assert got[("chain_block_execution_seconds_sum", ())] == pytest.approx(3.124)
        eth_call = {
            le: got[("rpc_duration_eth_call_success_bucket", (("le", le),))]
            for le in ("0.5", "+Inf")
        }
        assert eth_call == {"0.5": 1, "+Inf": 2}
        assert got[("rpc_duration_eth_call_success_sum", ())] == pytest.approx(2.25)
        # The standard collectors come along.
        assert any(name == "python_info" for name, _ in got)

    async def body(host: ServiceHost) -> None:
        url = host.stash[ENDPOINTS]["metrics"]
        first, content_type = await scrape(url)
        assert content_type.startswith("text/plain")
        assert "rpc_duration_eth_call_success" not in first  # not declared yet
        record(host)
        # Declared at run time, as the RPC server does on a method's first call.
        host.metrics.declare(
            Metric(
                "rpc_duration_eth_call_success",
                MetricKind.HISTOGRAM,
                "Seconds answering eth_call.",
                buckets=(0.5,),
            )
        )
        host.metrics.observe("rpc_duration_eth_call_success", 0.25)
        host.metrics.observe("rpc_duration_eth_call_success", 2.0)
        text, _ = await scrape(url)
        check(text)

    run(host_with(NodeConfig(metrics_port=0)), body)


def test_the_url_is_recorded_with_the_port_the_system_gave() -> None:
    async def body(host: ServiceHost) -> None:
        url = host.stash[ENDPOINTS]["metrics"]
        host_part, port = url.removeprefix("http://").removesuffix("/metrics").rsplit(":", 1)
        assert host_part == "127.0.0.1" and int(port) > 0
        text, _ = await scrape(url)
        assert "chain_head_block" in text

    host = host_with(NodeConfig(metrics_port=0))
    endpoints: dict[str, str] = {"rpc": "http://127.0.0.1:8545/"}
    host.stash[ENDPOINTS] = endpoints
    run(host, body)
    # Added beside what other services recorded, not instead of it.
    assert set(host.stash[ENDPOINTS].keys()) == {"rpc", "metrics"}


def test_a_scraper_asking_for_openmetrics_gets_it() -> None:
    async def body(host: ServiceHost) -> None:
        record(host)
        text, content_type = await scrape(host.stash[ENDPOINTS]["metrics"], OPENMETRICS)
        assert content_type.startswith("application/openmetrics-text")
        families = {f.name: f for f in openmetrics_families(text)}
        sealed = families["chain_blocks_sealed"]
        assert sealed.type == "counter"
        assert [(s.name, s.value) for s in sealed.samples] == [("chain_blocks_sealed_total", 3)]
        requests = families["rpc_requests"]
        assert requests.type == "gauge"
        assert [(s.name, s.value) for s in requests.samples] == [("rpc_requests", 7)]
        assert families["chain_block_execution_seconds"].type == "histogram"

    run(host_with(NodeConfig(metrics_port=0)), body)


@pytest.mark.parametrize("config", [None, NodeConfig()], ids=["no config", "no port"])
def test_without_a_metrics_port_nothing_listens(config: NodeConfig | None) -> None:
    before = set(threading.enumerate())

    async def body(host: ServiceHost) -> None:
        assert host.running == [METRICS_SERVICE]
        assert ENDPOINTS not in host.stash
        assert set(threading.enumerate()) - before == set()

    host = host_with(config)
    run(host, body)
    exporter = host.services.get(METRICS_SERVICE)
    assert isinstance(exporter, MetricsExporter) and exporter.url is None


def test_stop_frees_the_port() -> None:
    seen: dict[str, Any] = {}

    async def body(host: ServiceHost) -> None:
        url = host.stash[ENDPOINTS]["metrics"]
        await scrape(url)
        seen["url"], seen["port"] = url, int(url.rsplit(":", 1)[1].split("/")[0])
        seen["threads"] = {t for t in threading.enumerate() if t.name.startswith("supervm-metrics")}

    run(host_with(NodeConfig(metrics_port=0)), body)
    assert len(seen["threads"]) == 1
    assert not any(t.is_alive() for t in seen["threads"])
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(seen["url"], timeout=5)
    # A new listener can take the port: nothing holds it any more.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", seen["port"]))
        again.listen()


def test_a_port_in_use_fails_the_start_with_a_clear_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        host = host_with(NodeConfig(metrics_port=port))
        with pytest.raises(ServiceError) as info:
            asyncio.run(host.start())
    assert str(info.value) == (
        f"service 'metrics' (plugin metrics) failed to start: MetricsExporterError: "
        f"cannot serve metrics on 127.0.0.1 port {port}: Address already in use"
    )


@pytest.mark.parametrize("port", [-1, 65536])
def test_a_port_out_of_range_is_refused(port: int) -> None:
    host = host_with(NodeConfig(metrics_port=port))
    with pytest.raises(ServiceError, match=f"metrics port {port} is not between 0 and 65535$"):
        asyncio.run(host.start())


def test_an_address_not_of_this_machine_is_refused() -> None:
    # TEST-NET-1 (RFC 5737): a valid address no interface of a test machine has.
    host = host_with(NodeConfig(metrics_port=0, rpc_host="192.0.2.1"))
    with pytest.raises(ServiceError) as info:
        asyncio.run(host.start())
    assert str(info.value).endswith(
        "cannot serve metrics on 192.0.2.1 port 0: Cannot assign requested address"
    )
