"""Histograms tallied in memory (telemetry.fastpath.tallied_histogram): every reader of the process
sees them as the SDK would have aggregated them (held against a real SDK histogram fed the
same values), exemplars point at sampled spans only, pull mode serves them, no count is
lost across threads, and a request no longer makes a synchronous SDK measurement for its
duration. In-process, real SDK, read from memory."""

from __future__ import annotations

import itertools
import re
import threading

import httpx
import pytest
from django.test import Client
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from telemetry.fastpath.tallied_histogram import TalliedHistogram
from telemetry.fastpath.tallied_metrics import TalliedMeterProvider
from telemetry.pipeline.metrics_pull import start_reader
from tests.harness.servers import free_port

pytestmark = pytest.mark.django_db

SCOPE = ("tests.tallied_histogram", "1.2.3", "https://opentelemetry.io/schemas/1.21.0")
BOUNDARIES = [0.0, 0.005, 0.01, 0.1, 1.0]
UNSAMPLED_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
SAMPLED_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
GET_ROOT = {"http.request.method": "GET", "http.route": "/", "http.response.status_code": 200}

# Every test tallies a histogram of its own: tallies live as long as the process.
_names = (f"test.tallied.duration.{n}" for n in itertools.count())


class TwinHistograms:
    """A tallied histogram on the process's telemetry, and the SDK's own histogram of the
    same name and scope on a private MeterProvider: fed the same values."""

    def __init__(self, boundaries=BOUNDARIES, temporality=AggregationTemporality.CUMULATIVE):
        self.name = next(_names)
        options = {"unit": "s", "description": "How long it took."}
        if boundaries is not None:
            options["explicit_bucket_boundaries_advisory"] = boundaries
        meter = TalliedMeterProvider(lambda name: name == self.name).get_meter(*SCOPE)
        self.tallied = meter.create_histogram(self.name, **options)
        assert isinstance(self.tallied, TalliedHistogram)
        self.sdk_reader = InMemoryMetricReader(preferred_temporality={Histogram: temporality})
        self.sdk_provider = MeterProvider(metric_readers=[self.sdk_reader])
        self.sdk = self.sdk_provider.get_meter(*SCOPE).create_histogram(self.name, **options)

    def record(self, values, attributes=None):
        for value in values:
            self.tallied.record(value, attributes)
            self.sdk.record(value, attributes)

    def sdk_metric(self):
        return metric_in(self.sdk_reader.get_metrics_data(), self.name)


def metric_in(data, name):
    """(scope, metric) of metric `name` in a collection, or (None, None)."""
    for resource_metrics in data.resource_metrics if data else []:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    return scope_metrics.scope, metric
    return None, None


def without_times(metric):
    """What must match the SDK's exactly: all but the collection times."""
    if metric is None:
        return None
    points = sorted(
        (
            tuple(sorted(p.attributes.items())),
            p.count,
            p.sum,
            tuple(p.bucket_counts),
            tuple(p.explicit_bounds),
            p.min,
            p.max,
            [(e.filtered_attributes, e.value, e.span_id, e.trace_id) for e in p.exemplars],
        )
        for p in metric.data.data_points
    )
    return (
        metric.name,
        metric.unit,
        metric.description,
        metric.data.aggregation_temporality,
        points,
    )


def assert_same_as_sdk(twins, reader):
    scope, metric = metric_in(reader.get_metrics_data(), twins.name)
    sdk_scope, sdk_metric = twins.sdk_metric()
    assert without_times(metric) == without_times(sdk_metric)
    if metric is not None:
        assert scope == sdk_scope
        assert (scope.name, scope.version, scope.schema_url) == SCOPE
        for point in metric.data.data_points:
            assert 0 < point.start_time_unix_nano <= point.time_unix_nano
    return metric


@pytest.fixture(name="delta_reader")
def delta_reader_fixture(otel):
    """A delta-preferring in-memory reader on the process's MeterProvider, for one test."""
    reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
    provider = metrics.get_meter_provider()
    provider.add_metric_reader(reader)
    yield reader
    provider.remove_metric_reader(reader)


def span_in_context(sampled: bool, span_id: int):
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    context = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, span_id, False, flags)
    return trace.use_span(NonRecordingSpan(context))


def test_it_reports_what_the_sdk_would_cumulatively(otel):
    twins = TwinHistograms()
    twins.record(
        [0.0, 0.003, 0.005, 0.2, 7.5], {"http.route": "/a", "http.response.status_code": 200}
    )
    twins.record([0.05, 0.05], {"http.route": "/b", "http.response.status_code": 500})
    twins.record([0.5])

    metric = assert_same_as_sdk(twins, otel.metrics)
    by_route = {p.attributes.get("http.route"): p for p in metric.data.data_points}
    assert by_route["/a"].bucket_counts == (1, 2, 0, 0, 1, 1)
    assert (by_route["/a"].count, by_route["/a"].min, by_route["/a"].max) == (5, 0.0, 7.5)
    assert by_route["/a"].sum == pytest.approx(7.708)
    assert by_route[None].attributes == {}

    # Cumulative: the second collection still has the first one's counts, and the new ones.
    twins.record([0.02], {"http.route": "/b", "http.response.status_code": 500})
    metric = assert_same_as_sdk(twins, otel.metrics)
    assert sorted(p.count for p in metric.data.data_points) == [1, 3, 5]


def test_it_uses_the_sdks_default_boundaries_without_advisory_ones(otel):
    twins = TwinHistograms(boundaries=None)
    twins.record([0, 3, 30, 300, 3000, 30000], {"k": "v"})
    metric = assert_same_as_sdk(twins, otel.metrics)
    assert len(metric.data.data_points[0].explicit_bounds) == 15


def test_a_delta_reader_gets_what_was_recorded_since_its_previous_collection(delta_reader):
    twins = TwinHistograms(temporality=AggregationTemporality.DELTA)
    twins.record([0.2, 0.004], {"http.route": "/a"})
    twins.record([3.0], {"http.route": "/b"})
    first = assert_same_as_sdk(twins, delta_reader)
    assert sorted(p.count for p in first.data.data_points) == [1, 2]

    twins.record([0.05], {"http.route": "/a"})
    second = assert_same_as_sdk(twins, delta_reader)
    (point,) = second.data.data_points
    assert (point.count, point.min, point.max) == (1, 0.05, 0.05)
    (first_a,) = [p for p in first.data.data_points if p.attributes == {"http.route": "/a"}]
    assert point.start_time_unix_nano == first_a.time_unix_nano

    # Nothing recorded since: no metric at all, as from the SDK.
    assert assert_same_as_sdk(twins, delta_reader) is None


def test_a_cumulative_reader_is_not_robbed_by_a_delta_one(otel, delta_reader):
    twins = TwinHistograms()
    twins.record([0.2, 0.3], {"http.route": "/a"})
    delta_reader.get_metrics_data()  # drains the tally first
    twins.record([0.4], {"http.route": "/a"})
    metric = assert_same_as_sdk(twins, otel.metrics)
    assert metric.data.data_points[0].count == 3


def test_a_measurement_in_a_sampled_span_is_an_exemplar_of_its_bucket(otel):
    twins = TwinHistograms()
    otel.metrics.get_metrics_data()  # starts the exemplars' collection period afresh
    with span_in_context(sampled=True, span_id=0x1111):
        twins.record([0.05], {"http.route": "/a"})
    with span_in_context(sampled=True, span_id=0x2222):
        twins.record([0.07], {"http.route": "/a"})  # same bucket: the latest wins
    with span_in_context(sampled=False, span_id=0x3333):
        twins.record([0.5], {"http.route": "/a"})
    twins.record([0.6], {"http.route": "/a"})  # no span at all

    metric = assert_same_as_sdk(twins, otel.metrics)
    (point,) = metric.data.data_points
    (exemplar,) = point.exemplars
    assert (exemplar.value, exemplar.span_id) == (0.07, 0x2222)
    assert exemplar.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert exemplar.value <= point.explicit_bounds[3] and point.bucket_counts[3] == 2
    # Handed out once per collection, as the SDK's reservoirs are reset.
    assert assert_same_as_sdk(twins, otel.metrics).data.data_points[0].exemplars == []


def test_a_sampled_request_links_its_duration_to_its_trace(otel):
    otel.metrics.get_metrics_data()
    Client().get("/", HTTP_TRACEPARENT=UNSAMPLED_PARENT)
    assert all(not p.exemplars for p in duration_points(otel))

    Client().get("/", HTTP_TRACEPARENT=SAMPLED_PARENT)
    (server_span,) = [s for s in otel.finished_spans() if s.kind == trace.SpanKind.SERVER]
    (exemplar,) = [e for p in duration_points(otel) for e in p.exemplars]
    assert exemplar.trace_id == server_span.context.trace_id
    assert exemplar.span_id == server_span.context.span_id


def duration_points(otel):
    return [
        p
        for p in otel.metric_points("http.server.request.duration")
        if GET_ROOT.items() <= p.attributes.items()
    ]


def test_a_request_makes_no_synchronous_measurement_for_its_duration(
    otel, synchronous_measurements
):
    before = sum(p.count for p in duration_points(otel))

    response = Client().get("/", HTTP_TRACEPARENT=UNSAMPLED_PARENT)

    assert response.status_code == 200
    assert "http.server.request.duration" not in synchronous_measurements
    assert sum(p.count for p in duration_points(otel)) == before + 1
    (scope, metric) = metric_in(otel.metrics.get_metrics_data(), "http.server.request.duration")
    assert scope.name == "opentelemetry.instrumentation.django"
    assert (metric.unit, metric.description) == ("s", "Duration of HTTP server requests.")


def test_threads_lose_no_count(otel):
    twins = TwinHistograms()
    threads_count, records = 8, 5000

    def record_many(thread: int):
        for n in range(records):
            twins.tallied.record(n % 7 / 10, {"thread": thread % 2})

    threads = [threading.Thread(target=record_many, args=(t,)) for t in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    _, metric = metric_in(otel.metrics.get_metrics_data(), twins.name)
    points = metric.data.data_points
    assert sum(p.count for p in points) == threads_count * records
    assert sum(sum(p.bucket_counts) for p in points) == threads_count * records


def test_pull_mode_serves_the_tallied_duration(otel):
    port = free_port()
    (reader,) = start_reader("127.0.0.1", range(port, port + 1))
    provider = metrics.get_meter_provider()
    provider.add_metric_reader(reader)
    try:
        for _ in range(3):
            Client().get("/", HTTP_TRACEPARENT=UNSAMPLED_PARENT)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        provider.remove_metric_reader(reader)

    def series(suffix: str, extra: str = "") -> list[float]:
        pattern = rf"^http_server_request_duration_seconds_{suffix}\{{([^}}]*)\}} (\S+)$"
        return [
            float(value)
            for labels, value in re.findall(pattern, text, re.MULTILINE)
            if 'http_route="/"' in labels
            and 'http_request_method="GET"' in labels
            and extra in labels
        ]

    assert series("count") == [3.0]
    assert len(series("sum")) == 1 and series("sum")[0] > 0
    buckets = series("bucket")  # cumulative, one per boundary of the instrumentation and +Inf
    assert len(buckets) == 15 and buckets == sorted(buckets) and buckets[-1] == 3.0
    assert series("bucket", 'le="+Inf"') == [3.0]


def test_a_process_preferring_exponential_histograms_gets_the_sdks_own(otel, monkeypatch):
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
        "base2_exponential_bucket_histogram",
    )
    name = next(_names)
    meter = TalliedMeterProvider(lambda chosen: chosen == name).get_meter(*SCOPE)

    histogram = meter.create_histogram(name, unit="s")

    assert not isinstance(histogram, TalliedHistogram)
