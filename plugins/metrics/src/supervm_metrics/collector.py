"""The node's metrics as Prometheus metric families.

:class:`SeriesCollector` is a prometheus_client custom collector: at each scrape it reads the
kernel's :class:`~supervm.services.metrics.Metrics` and translates every declared metric into a
metric family, so prometheus_client's own exposition code renders the text format.

The names are the ones the plugins declared, unchanged, because dashboards and alerts written
for geth query geth's names. That decides how counters are typed:

- a counter whose name ends in ``_total`` (``chain_blocks_sealed_total``) is a Prometheus
  counter; prometheus_client renders a counter family ``x`` as the sample ``x_total``, so the
  family is built from the name without the suffix and the sample keeps the declared name;
- a counter named as geth names its meters (``rpc_requests``, ``rpc_failure``) is exported as a
  gauge under exactly that name, as geth's own exporter does (it types every counter and meter
  ``gauge``). Typing it ``counter`` would make prometheus_client write ``rpc_requests_total``,
  a name no geth dashboard queries; exporting both names would double the series for nothing.
  PromQL's ``rate`` and ``increase`` work on such a gauge all the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import Metric as Family
from prometheus_client.utils import floatToGoString
from supervm.services.metrics import Metric, MetricKind, Metrics, Series

log = logging.getLogger("supervm.metrics")

#: How prometheus_client writes a bucket bound (``1.0``, ``+Inf``), as its own histograms do.
_bound_label: Callable[[float], str] = floatToGoString

#: The sample names each Prometheus family type writes besides its own name (``_created``
#: samples left aside: nothing here sets a creation time).
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total",),
    "summary": ("_sum", "_count"),
    "histogram": ("_bucket", "_sum", "_count"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "info": ("_info",),
}


def sample_names(family: Family) -> set[str]:
    """The names a family claims in the exposition: its name and its type's suffixed names.

    A counter family's own name is not one: prometheus_client writes ``x_total`` for it.

    :param family: a prometheus_client metric family.
    """
    own = set() if family.type == "counter" else {family.name}
    return own | {family.name + s for s in _SUFFIXES.get(family.type, ())}


def to_family(metric: Metric, series: Iterable[Series]) -> Family:
    """The Prometheus family of one declared metric, with a sample per recorded series.

    An unlabelled metric nothing has recorded yet is exported at 0 (a histogram with no
    observations), as prometheus_client does for its own metrics: a rate, a ratio or an alert
    over it has a series to work on from the first scrape. A labelled one has no series until
    its first value, since its label values are not known before.

    :param metric: the declaration.
    :param series: the values recorded against it (``Metrics.collect()`` for that metric).
    """
    recorded = list(series)
    labels = list(metric.labels)
    if metric.kind is MetricKind.HISTOGRAM:
        histogram = HistogramMetricFamily(metric.name, metric.help, labels=labels)
        if not recorded and not labels:
            recorded = [Series(metric, (), 0.0, 0, (0,) * len(metric.buckets))]
        for s in recorded:
            buckets = [
                (_bound_label(bound), float(count))
                for bound, count in zip(metric.buckets, s.buckets, strict=True)
            ]
            buckets.append(("+Inf", float(s.count)))
            histogram.add_metric(list(s.labels), buckets, s.value)
        return histogram
    if not recorded and not labels:
        recorded = [Series(metric, (), 0.0)]
    family: CounterMetricFamily | GaugeMetricFamily
    if metric.kind is MetricKind.COUNTER and metric.name.endswith("_total"):
        # CounterMetricFamily drops the "_total" from the family name and writes it back on
        # the sample: the scraped sample is the declared name.
        family = CounterMetricFamily(metric.name, metric.help, labels=labels)
    else:
        # A gauge, or a geth-style counter without "_total" (see the module docstring).
        family = GaugeMetricFamily(metric.name, metric.help, labels=labels)
    for s in recorded:
        family.add_metric(list(s.labels), s.value)
    return family


class SeriesCollector:
    """A prometheus_client collector over the kernel's metrics, read at each scrape.

    Metrics declared at run time (``Metrics.declare``) appear from the next scrape on. A family
    whose sample names another family already writes (the process collector's, or a histogram's
    ``x_count`` declared twice over) would make Prometheus reject the whole scrape, so it is left
    out, with a warning logged once per name.

    :param metrics: the values the node's services record.
    :param reserved: sample names other collectors of the same registry write.
    """

    def __init__(self, metrics: Metrics, reserved: Iterable[str] = ()) -> None:
        self._metrics = metrics
        self._reserved = frozenset(reserved)
        self._warned: set[str] = set()
        self._lock = threading.Lock()  # scrapes run in the HTTP server's threads

    def collect(self) -> Iterator[Family]:
        """One family per declared metric, in declaration order."""
        by_metric: dict[str, tuple[Metric, list[Series]]] = {
            m.name: (m, []) for m in self._metrics.describe()
        }
        for s in self._metrics.collect():
            # A metric declared between describe() and collect() comes with its series.
            by_metric.setdefault(s.metric.name, (s.metric, []))[1].append(s)
        taken = set(self._reserved)
        for metric, series in by_metric.values():
            family = to_family(metric, series)
            names = sample_names(family)
            clash = names & taken
            if clash:
                self._warn_once(metric, clash)
                continue
            taken |= names
            yield family

    def _warn_once(self, metric: Metric, clash: set[str]) -> None:
        with self._lock:
            if metric.name in self._warned:
                return
            self._warned.add(metric.name)
        log.warning(
            "metric %s is not exported: its series %s are another metric's",
            metric.name,
            ", ".join(sorted(clash)),
        )
