"""Metrics: descriptions plugins declare, and the values services record against them.

The kernel knows no monitoring system. Plugins declare counters, gauges and histograms with
``supervm_register_metrics`` (a :class:`Metric` each, in a
:class:`~supervm.plugins.registry.MetricRegistry`); services record values through the
:class:`Metrics` of their :class:`~supervm.services.service.ServiceContext`; an exporter plugin
(Prometheus, say) reads :meth:`Metrics.collect` and renders it in its own format. Names and
labels follow Prometheus' rules, so any exporter can use them unchanged.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Mapping
from enum import StrEnum

import attrs

from supervm.errors import SuperVMError

#: Prometheus' default histogram buckets, in seconds: suits most latencies.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MetricError(SuperVMError):
    """A metric was declared badly, or recorded in a way its declaration does not allow."""


class MetricKind(StrEnum):
    """How a metric's value behaves."""

    #: Only goes up (blocks imported, transactions rejected); reset when the process restarts.
    COUNTER = "counter"
    #: Goes up and down (peers connected, transactions pending).
    GAUGE = "gauge"
    #: Counts observations into buckets (block execution time, RPC latency).
    HISTOGRAM = "histogram"


def _check_name(_instance: object, _attribute: attrs.Attribute[str], name: str) -> None:
    if not _METRIC_NAME.fullmatch(name):
        raise MetricError(f"metric name {name!r} must match {_METRIC_NAME.pattern}")


@attrs.frozen
class Metric:
    """The description of one metric.

    :param name: unique name, ``supervm_<area>_<what>[_<unit>]``; counters end in ``_total``
        by convention (``supervm_chain_blocks_imported_total``).
    :param kind: counter, gauge or histogram.
    :param help: one line saying what is measured, shown by exporters.
    :param labels: names of the labels every recorded value carries, in order.
    :param buckets: a histogram's bucket upper bounds, strictly increasing (``+Inf`` implied).
    """

    name: str = attrs.field(validator=_check_name)
    kind: MetricKind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    def __attrs_post_init__(self) -> None:
        if not self.help.strip():
            raise MetricError(f"metric {self.name}: help text must not be empty")
        for label in self.labels:
            if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
                raise MetricError(f"metric {self.name}: invalid label name {label!r}")
        if len(set(self.labels)) != len(self.labels):
            raise MetricError(f"metric {self.name}: duplicate label names {self.labels}")
        if self.kind is MetricKind.HISTOGRAM:
            if "le" in self.labels:
                raise MetricError(f"metric {self.name}: a histogram cannot have a label 'le'")
            if not self.buckets:
                raise MetricError(f"metric {self.name}: a histogram needs buckets")
            if any(not math.isfinite(b) for b in self.buckets) or any(
                a >= b for a, b in zip(self.buckets, self.buckets[1:], strict=False)
            ):
                raise MetricError(
                    f"metric {self.name}: buckets must be finite and strictly increasing, "
                    f"got {self.buckets}"
                )
        elif self.buckets:
            raise MetricError(f"metric {self.name}: only a histogram has buckets")


@attrs.frozen
class Series:
    """The current value of one metric for one combination of label values.

    :param metric: the metric's description.
    :param labels: the label values, in the order of ``metric.labels``.
    :param value: a counter's or gauge's value; a histogram's sum of observations.
    :param count: a histogram's number of observations (0 otherwise).
    :param buckets: a histogram's cumulative count per bucket of ``metric.buckets``.
    """

    metric: Metric
    labels: tuple[str, ...]
    value: float
    count: int = 0
    buckets: tuple[int, ...] = ()


@attrs.define
class _Histogram:
    counts: list[int]
    sum: float = 0.0
    count: int = 0


class Metrics:
    """Records values of declared metrics, in memory, for an exporter to collect.

    Recording checks the name, kind and labels against the declaration and raises
    :class:`MetricError` for a mistake. It is safe from any thread.

    :param metrics: the declared metrics (``MetricRegistry.metrics()``).
    """

    def __init__(self, metrics: Iterable[Metric] = ()) -> None:
        self._metrics = {m.name: m for m in metrics}
        self._values: dict[str, dict[tuple[str, ...], float]] = {}
        self._histograms: dict[str, dict[tuple[str, ...], _Histogram]] = {}
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        """Every declared metric, in declaration order."""
        return list(self._metrics.values())

    def declare(self, metric: Metric) -> None:
        """Declare a metric at run time, for names known only once a service starts (one
        duration per JSON-RPC method, as geth's ``rpc_duration_<method>_success``).

        Declaring the same description twice is harmless.

        :raises MetricError: if another metric of that name is declared already.
        """
        with self._lock:
            known = self._metrics.get(metric.name)
            if known is None:
                self._metrics[metric.name] = metric
            elif known != metric:
                raise MetricError(f"metric {metric.name} is declared already, as {known}")

    def inc(self, name: str, amount: float = 1.0, labels: Mapping[str, str] | None = None) -> None:
        """Add ``amount`` (not negative for a counter) to a counter or gauge."""
        metric = self._metric(name, MetricKind.COUNTER, MetricKind.GAUGE)
        if metric.kind is MetricKind.COUNTER and amount < 0:
            raise MetricError(f"counter {name} cannot decrease (inc by {amount})")
        key = self._label_values(metric, labels)
        with self._lock:
            series = self._values.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Set a gauge to ``value``."""
        metric = self._metric(name, MetricKind.GAUGE)
        key = self._label_values(metric, labels)
        with self._lock:
            self._values.setdefault(name, {})[key] = value

    def observe(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Count one observation of ``value`` in a histogram."""
        metric = self._metric(name, MetricKind.HISTOGRAM)
        key = self._label_values(metric, labels)
        with self._lock:
            series = self._histograms.setdefault(name, {})
            histogram = series.get(key)
            if histogram is None:
                histogram = series[key] = _Histogram([0] * len(metric.buckets))
            for i, bound in enumerate(metric.buckets):
                if value <= bound:
                    histogram.counts[i] += 1
            histogram.sum += value
            histogram.count += 1

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """A counter's or gauge's current value (0 before anything was recorded)."""
        metric = self._metric(name, MetricKind.COUNTER, MetricKind.GAUGE)
        key = self._label_values(metric, labels)
        with self._lock:
            return self._values.get(name, {}).get(key, 0.0)

    def collect(self) -> list[Series]:
        """Every recorded series, by declaration order of the metrics, then by label values."""
        out: list[Series] = []
        with self._lock:
            for name, metric in self._metrics.items():
                if metric.kind is MetricKind.HISTOGRAM:
                    for key, h in sorted(self._histograms.get(name, {}).items()):
                        out.append(Series(metric, key, h.sum, h.count, tuple(h.counts)))
                else:
                    for key, value in sorted(self._values.get(name, {}).items()):
                        out.append(Series(metric, key, value))
        return out

    def _metric(self, name: str, *kinds: MetricKind) -> Metric:
        metric = self._metrics.get(name)
        if metric is None:
            raise MetricError(
                f"metric {name!r} is not declared (declare it with supervm_register_metrics)"
            )
        if metric.kind not in kinds:
            raise MetricError(f"metric {name} is a {metric.kind}, not a {' or '.join(kinds)}")
        return metric

    @staticmethod
    def _label_values(metric: Metric, labels: Mapping[str, str] | None) -> tuple[str, ...]:
        given = labels or {}
        if set(given) != set(metric.labels):
            raise MetricError(
                f"metric {metric.name} has labels {list(metric.labels)}, got {sorted(given)}"
            )
        return tuple(str(given[label]) for label in metric.labels)
