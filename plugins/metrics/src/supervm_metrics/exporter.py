"""The ``metrics`` service: the node's metrics on a Prometheus endpoint.

When the node runs with a metrics port (``supervm node --metrics-port P``,
:attr:`NodeConfig.metrics_port <supervm.node.config.NodeConfig.metrics_port>`), the service
serves ``GET /metrics`` in the Prometheus text format (OpenMetrics when the scraper asks for it)
on the RPC host, with prometheus_client's own HTTP server in a thread of its own: a scrape never
waits for the event loop, and a busy event loop never delays a scrape.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from supervm.errors import SuperVMError
from supervm.node.keys import CONFIG, ENDPOINTS
from supervm.services.metrics import Metrics
from supervm.services.service import Service, ServiceContext

from .collector import SeriesCollector, sample_names

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

log = logging.getLogger("supervm.metrics")

#: The name the plugin registers its service under.
METRICS_SERVICE = "metrics"
#: Seconds :meth:`MetricsExporter.stop` waits for the server's thread to end.
_JOIN_TIMEOUT = 5.0


class MetricsExporterError(SuperVMError):
    """The metrics endpoint could not be served (a bad port, an address already in use)."""


def build_registry(metrics: Metrics) -> CollectorRegistry:
    """A registry exporting ``metrics`` and the process', platform's and garbage collector's.

    :param metrics: the values the node's services record.
    """
    registry = CollectorRegistry()
    standard = [
        ProcessCollector(registry=registry),  # process_cpu_seconds_total, memory, open fds
        PlatformCollector(registry=registry),  # python_info
        GCCollector(registry=registry),  # python_gc_*
    ]
    reserved = {name for c in standard for family in c.collect() for name in sample_names(family)}
    registry.register(SeriesCollector(metrics, reserved))
    return registry


def endpoint_url(host: str, port: int) -> str:
    """The URL a scraper reads: ``http://HOST:PORT/metrics``, an IPv6 host in brackets.

    :param host: the address listened on.
    :param port: the port listened on.
    """
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/metrics"


class MetricsExporter(Service):
    """Serves the node's metrics over HTTP while the node runs, if it was given a port.

    Without a :data:`~supervm.node.keys.CONFIG` in the stash, or with ``metrics_port=None``, it
    starts nothing. With a port (0 picks a free one) it listens on ``config.rpc_host`` and
    records its URL under ``"metrics"`` in the stash's
    :data:`~supervm.node.keys.ENDPOINTS`.
    """

    def __init__(self) -> None:
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        #: Where the metrics are served, once started with a port.
        self.url: str | None = None

    async def start(self, context: ServiceContext) -> None:
        """Start serving, if the node's configuration names a metrics port.

        :param context: the service context; its stash may hold the node's configuration.
        :raises MetricsExporterError: if the port is out of range, or the address cannot be
            listened on.
        """
        config = context.stash.get(CONFIG)
        if config is None or config.metrics_port is None:
            log.debug("no metrics port configured: not serving metrics")
            return
        host, port = config.rpc_host, config.metrics_port
        if not 0 <= port <= 65535:
            raise MetricsExporterError(f"metrics port {port} is not between 0 and 65535")
        registry = build_registry(context.metrics)
        try:
            server, thread = start_http_server(port, host, registry=registry)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise MetricsExporterError(
                f"cannot serve metrics on {host} port {port}: {reason}"
            ) from None
        self._server, self._thread = server, thread
        thread.name = f"supervm-metrics-{server.server_port}"
        self.url = endpoint_url(host, server.server_port)
        context.stash.setdefault(ENDPOINTS, {})["metrics"] = self.url
        log.info("serving metrics at %s", self.url)

    async def stop(self) -> None:
        """Stop serving and free the port (nothing to do if nothing was started)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        # shutdown() blocks until serve_forever's loop notices (up to its 0.5 s poll): off the
        # event loop, which other services are still stopping on.
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        if thread is not None:
            await asyncio.to_thread(thread.join, _JOIN_TIMEOUT)
        log.info("stopped serving metrics at %s", self.url)
