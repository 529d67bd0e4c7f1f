"""Histograms that aggregate in memory and are handed to every metric reader at collection,
for the durations recorded on every request, where a synchronous SDK measurement costs too
much.

OpenTelemetry has no observable histogram, so TallyReportingMeterProvider adds the tallied
histograms to what the SDK collects for each of its readers (OTLP, Prometheus, in-memory),
as the metrics the SDK would have aggregated itself: same name, unit, description, scope,
attributes, buckets, sum, min, max, exemplars, start and end times, and each reader's
temporality.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from bisect import bisect_left
from collections.abc import Callable, Sequence
from functools import partial
from time import time_ns

from opentelemetry.context import Context
from opentelemetry.sdk.metrics import Exemplar, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricReader,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import get_current_span
from opentelemetry.util.types import Attributes, AttributeValue

logger = logging.getLogger(__name__)

# The SDK's boundaries for a histogram created without advisory ones (a test holds them
# against the SDK's own aggregation).
DEFAULT_BOUNDARIES: tuple[float, ...]
DEFAULT_BOUNDARIES = (0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0)
DEFAULT_BOUNDARIES += (2500.0, 5000.0, 7500.0, 10000.0)

_NO_ATTRIBUTES: frozenset = frozenset()


class _Accumulation:
    """What one attribute set recorded: since the last drain, or what one reader is owed."""

    __slots__ = ("attributes", "bucket_counts", "exemplars", "max", "min", "start_time", "sum")

    def __init__(self, attributes: dict, start_time: int, buckets: int) -> None:
        self.attributes = attributes
        self.start_time = start_time
        self.bucket_counts = [0] * buckets
        self.sum: float = 0
        self.min = math.inf
        self.max = -math.inf
        # Bucket index -> (value, time, span_id, trace_id) of its latest sampled measurement.
        self.exemplars: dict[int, tuple] = {}

    def add(self, other: _Accumulation) -> None:
        self.bucket_counts = [
            a + b for a, b in zip(self.bucket_counts, other.bucket_counts, strict=True)
        ]
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.exemplars.update(other.exemplars)  # the later measurement wins

    def copy(self) -> _Accumulation:
        copy = _Accumulation(self.attributes, self.start_time, len(self.bucket_counts))
        copy.add(self)
        return copy

    def point(self, start_time: int, time: int, bounds: tuple) -> HistogramDataPoint:
        """The data point, as the SDK's explicit-bucket aggregation makes it; the exemplars
        are handed out once (the SDK's reservoirs reset at every collection)."""
        # The SDK's exemplars keep the attributes the point does not have: none here.
        filtered: Attributes = {} if self.attributes else None
        exemplars = [
            Exemplar(filtered, value, at, span_id, trace_id)
            for _, (value, at, span_id, trace_id) in sorted(self.exemplars.items())
        ]
        self.exemplars = {}
        return HistogramDataPoint(
            attributes=self.attributes,
            start_time_unix_nano=start_time,
            time_unix_nano=time,
            count=sum(self.bucket_counts),
            sum=self.sum,
            bucket_counts=tuple(self.bucket_counts),
            explicit_bounds=bounds,
            min=self.min,
            max=self.max,
            exemplars=exemplars,
        )


class TalliedHistogram:
    """An explicit-bucket histogram that aggregates in memory, per attribute set.

    A synchronous SDK measurement costs about 13 us (attributes cleaned, hashed recursively
    and sorted, a lock, the exemplar filter). This keys the attribute set by a frozenset of
    its items and counts under one lock. Exemplars follow the SDK's defaults for such
    histograms: per bucket the latest measurement that passes OTEL_METRICS_EXEMPLAR_FILTER
    (trace_based unless set: only measurements in a sampled span).
    """

    def __init__(
        self,
        scope: InstrumentationScope,
        name: str,
        unit: str = "",
        description: str = "",
        boundaries: Sequence[float] | None = None,
    ) -> None:
        self.scope = scope
        self.name = name
        self.unit = unit
        self.description = description
        self.boundaries = tuple(DEFAULT_BOUNDARIES if boundaries is None else boundaries)
        self._buckets = len(self.boundaries) + 1
        self._exemplar_filter = os.environ.get("OTEL_METRICS_EXEMPLAR_FILTER", "trace_based")
        self._lock = threading.Lock()
        self._recorded: dict[frozenset, _Accumulation] = {}

    def record(
        self, amount: float, attributes: Attributes = None, context: Context | None = None
    ) -> None:
        if not 0 <= amount < math.inf:  # NaN fails both comparisons
            logger.warning("Histogram %s: ignored %s (not finite, or negative)", self.name, amount)
            return
        try:
            key = frozenset(attributes.items()) if attributes else _NO_ATTRIBUTES
        except TypeError:  # a list value: kept as the SDK keeps it, as a tuple
            attributes = {k: _hashable(v) for k, v in (attributes or {}).items()}
            key = frozenset(attributes.items())
        index = bisect_left(self.boundaries, amount)
        exemplar: tuple[float, int, int | None, int | None] | None = None
        if self._exemplar_filter != "always_off":
            span_context = get_current_span(context).get_span_context()
            if span_context.trace_flags.sampled or self._exemplar_filter == "always_on":
                # The SDK's exemplars carry no ids when there is no span at all.
                if span_context.is_valid:
                    exemplar = (amount, time_ns(), span_context.span_id, span_context.trace_id)
                else:
                    exemplar = (amount, time_ns(), None, None)
        with self._lock:
            recorded = self._recorded.get(key)
            if recorded is None:
                recorded = self._recorded[key] = _Accumulation(
                    dict(attributes) if attributes else {}, time_ns(), self._buckets
                )
            recorded.bucket_counts[index] += 1
            recorded.sum += amount
            if amount < recorded.min:
                recorded.min = amount
            if amount > recorded.max:
                recorded.max = amount
            if exemplar is not None:
                recorded.exemplars[index] = exemplar

    def drain(self) -> dict[frozenset, _Accumulation]:
        """What was recorded since the last drain, per attribute set; recording starts over."""
        with self._lock:
            recorded, self._recorded = self._recorded, {}
        return recorded


def _hashable(value: AttributeValue) -> AttributeValue:
    return tuple(value) if isinstance(value, list) else value


# One tally per (scope, histogram) in this process, shared by every user of that name.
_histograms: dict[tuple[str, str], TalliedHistogram] = {}
_histograms_lock = threading.Lock()


def tallied_histogram(
    scope: InstrumentationScope,
    name: str,
    unit: str = "",
    description: str = "",
    boundaries: Sequence[float] | None = None,
) -> TalliedHistogram:
    """This process's TalliedHistogram for `name` in `scope`, made on first use."""
    with _histograms_lock:
        histogram = _histograms.get((scope.name, name))
        if histogram is None:
            histogram = TalliedHistogram(scope, name, unit, description, boundaries)
            _histograms[(scope.name, name)] = histogram
        return histogram


class _ReaderTally:
    """What one reader is owed of one histogram: running totals (cumulative) or what was
    recorded since its previous collection (delta)."""

    def __init__(self) -> None:
        self.owed: dict[frozenset, _Accumulation] = {}
        # Delta: where the next point of each attribute set starts (its previous collection).
        self.since: dict[frozenset, int] = {}

    def add(self, drained: dict[frozenset, _Accumulation]) -> None:
        for key, recorded in drained.items():
            owed = self.owed.get(key)
            if owed is None:
                self.owed[key] = recorded.copy()
            else:
                owed.add(recorded)

    def points(
        self, temporality: AggregationTemporality, now: int, bounds: tuple
    ) -> list[HistogramDataPoint]:
        if temporality is AggregationTemporality.CUMULATIVE:
            return [owed.point(owed.start_time, now, bounds) for owed in self.owed.values()]
        points = [
            owed.point(self.since.get(key, owed.start_time), now, bounds)
            for key, owed in self.owed.items()
        ]
        self.since.update(dict.fromkeys(self.since.keys() | self.owed.keys(), now))
        self.owed = {}
        return points


def _exponential_histograms_preferred() -> bool:
    preference = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "")
    return preference.strip().lower() == "base2_exponential_bucket_histogram"


def histogram_for(
    meter,
    scope: InstrumentationScope,
    tally: bool,
    name: str,
    unit: str = "",
    description: str = "",
    boundaries: Sequence[float] | None = None,
):
    """This process's TalliedHistogram for `name` in `scope` when `tally`, else `meter`'s own
    histogram. A tallied one has explicit buckets only: a process asking for exponential ones
    (OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION) gets the SDK's."""
    if not tally or _exponential_histograms_preferred():
        return meter.create_histogram(
            name, unit=unit, description=description, explicit_bucket_boundaries_advisory=boundaries
        )
    return tallied_histogram(scope, name, unit, description, boundaries)


class TallyReportingMeterProvider(MeterProvider):
    """The SDK's MeterProvider, whose every reader also collects this process's tallied
    histograms, merged into the same MetricsData as if the SDK had aggregated them.

    tallied_histograms: the names of histograms that any meter of this provider hands out
    tallied (the ones recorded on every job or outgoing call: their code asks the global
    MeterProvider, and so gets them without knowing)."""

    def __init__(
        self,
        metric_readers: Sequence[MetricReader] = (),
        *,
        tallied_histograms: frozenset[str] = frozenset(),
        **kwargs,
    ) -> None:
        self._tally_lock = threading.Lock()
        self._reader_tallies: dict[MetricReader, dict[TalliedHistogram, _ReaderTally]] = {}
        self._tallied_histograms = tallied_histograms
        super().__init__(metric_readers=metric_readers, **kwargs)
        for reader in metric_readers:
            self._report_tallies_to(reader)

    def get_meter(self, name, version=None, schema_url=None, attributes=None):
        meter = super().get_meter(name, version, schema_url, attributes)
        if not self._tallied_histograms:
            return meter
        scope = InstrumentationScope(name, version, schema_url, attributes)
        return _HistogramTallyingMeter(meter, scope, self._tallied_histograms)

    def add_metric_reader(self, metric_reader: MetricReader) -> None:
        super().add_metric_reader(metric_reader)
        self._report_tallies_to(metric_reader)

    def remove_metric_reader(self, metric_reader: MetricReader) -> None:
        with self._tally_lock:
            self._reader_tallies.pop(metric_reader, None)
        super().remove_metric_reader(metric_reader)

    # Private SDK API, all of it in the next two methods (listed, with what to re-check on an
    # SDK upgrade, in telemetry.upstream.private_api): a reader
    # collects through the callback its MeterProvider gives it (there is no public hook
    # between the two, nor a MetricProducer in the Python SDK), the reader's temporality for
    # histograms is kept only in its private table, and the resource (updated after a fork)
    # only in the provider's private configuration.
    def _report_tallies_to(self, reader: MetricReader) -> None:
        from opentelemetry.sdk.metrics._internal.instrument import _Histogram

        with self._tally_lock:
            if reader in self._reader_tallies:
                return
            self._reader_tallies[reader] = {}
        temporality = reader._instrument_class_temporality[_Histogram]
        sdk_collect = self._measurement_consumer.collect
        # The SDK hands over its own MeasurementConsumer.collect here, which has this shape
        # (reader, timeout_millis) -> MetricsData | None, unlike the hint of the parameter.
        reader._set_collect_callback(partial(self._collect, sdk_collect, temporality))  # type: ignore[arg-type]

    def _collect(
        self,
        sdk_collect: Callable[..., MetricsData | None],
        temporality: AggregationTemporality,
        reader: MetricReader,
        timeout_millis: float = 10_000,
    ) -> MetricsData | None:
        collected = sdk_collect(reader, timeout_millis=timeout_millis)
        tallied = self._collect_tallies(reader, temporality)
        return _merged(collected, tallied, self._sdk_config.resource) if tallied else collected

    def _collect_tallies(
        self, reader: MetricReader, temporality: AggregationTemporality
    ) -> list[tuple[InstrumentationScope, Metric]]:
        with _histograms_lock:
            histograms = list(_histograms.values())
        metrics = []
        with self._tally_lock:
            now = time_ns()
            for histogram in histograms:
                # Drained once for every reader, so recording costs the same with any number.
                drained = histogram.drain()
                for tallies in self._reader_tallies.values():
                    tallies.setdefault(histogram, _ReaderTally()).add(drained)
                tally = self._reader_tallies.get(reader, {}).get(histogram)
                points = tally.points(temporality, now, histogram.boundaries) if tally else []
                if points:
                    data = Histogram(data_points=points, aggregation_temporality=temporality)
                    metric = Metric(histogram.name, histogram.description, histogram.unit, data)
                    metrics.append((histogram.scope, metric))
        return metrics


class _HistogramTallyingMeter:
    """The SDK's Meter, but the histograms named in `tallied` are this process's
    TalliedHistogram of that name and scope (unless exponential histograms are preferred)."""

    def __init__(self, meter, scope: InstrumentationScope, tallied: frozenset[str]) -> None:
        self._meter = meter
        self._scope = scope
        self._tallied = tallied

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ):
        tally = name in self._tallied
        boundaries = explicit_bucket_boundaries_advisory
        return histogram_for(self._meter, self._scope, tally, name, unit, description, boundaries)

    def __getattr__(self, name: str):
        return getattr(self._meter, name)


def _merged(
    collected: MetricsData | None,
    tallied: list[tuple[InstrumentationScope, Metric]],
    resource,
) -> MetricsData:
    """`collected` with the tallied metrics in the ScopeMetrics of their scope."""
    if collected and collected.resource_metrics:
        first, *others = collected.resource_metrics
    else:
        first = ResourceMetrics(resource=resource, scope_metrics=[], schema_url=resource.schema_url)
        others = []
    scopes = {scope_metrics.scope: scope_metrics for scope_metrics in first.scope_metrics}
    for scope, metric in tallied:
        existing = scopes.get(scope)
        scopes[scope] = ScopeMetrics(
            scope=scope,
            metrics=[*(existing.metrics if existing else ()), metric],
            # None for a scope without one, as the SDK's MetricReaderStorage passes it.
            schema_url=scope.schema_url,  # type: ignore[arg-type]
        )
    merged = ResourceMetrics(
        resource=first.resource, scope_metrics=list(scopes.values()), schema_url=first.schema_url
    )
    return MetricsData(resource_metrics=[merged, *others])
