"""SuperVM plugin: the node's metrics on a Prometheus endpoint.

The kernel's :class:`~supervm.services.metrics.Metrics` holds the values other plugins declare
(``supervm_register_metrics``, or ``Metrics.declare`` at run time) and record; this plugin only
exports them. It registers the ``metrics`` service, which serves ``GET /metrics`` when the node
runs with ``--metrics-port`` (:mod:`supervm_metrics.exporter`), translating each metric into a
Prometheus family under its declared name (:mod:`supervm_metrics.collector`).
See ``docs/metrics.md`` for the metrics, the Grafana dashboard and the alert rules.
"""

from __future__ import annotations

from supervm.plugins.hookspecs import hookimpl
from supervm.plugins.registry import ServiceRegistry

from .collector import SeriesCollector, to_family
from .exporter import (
    METRICS_SERVICE,
    MetricsExporter,
    MetricsExporterError,
    build_registry,
    endpoint_url,
)

__all__ = [
    "METRICS_SERVICE",
    "MetricsExporter",
    "MetricsExporterError",
    "SeriesCollector",
    "build_registry",
    "endpoint_url",
    "supervm_register_services",
    "to_family",
]


@hookimpl
def supervm_register_services(registry: ServiceRegistry) -> None:
    """Register the ``metrics`` exporter service (it starts nothing without a metrics port)."""
    registry.add_service(METRICS_SERVICE, MetricsExporter())
