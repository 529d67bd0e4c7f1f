"""The real telemetry set-up, in the test process, exporting to memory instead of OTLP.

configure_telemetry() runs once per process (as in production), so the providers and
instrumentations stay for the rest of the test run; each test starts from empty exporters.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from telemetry.pipeline.setup import configure_telemetry


@dataclass
class InMemoryTelemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    def finished_spans(self):
        return list(self.spans.get_finished_spans())

    def metric_points(self, name: str) -> list:
        """The data points of metric `name` collected now (cumulative since the start)."""
        data = self.metrics.get_metrics_data()
        points = []
        for resource_metrics in data.resource_metrics if data else []:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    def count(self, name: str, **attributes) -> float:
        """Sum of the points of counter `name` whose attributes include `attributes`."""
        return sum(
            point.value
            for point in self.metric_points(name)
            if all(point.attributes.get(k) == v for k, v in attributes.items())
        )


_memory: InMemoryTelemetry | None = None


@pytest.fixture(name="otel_session", scope="session")
def otel_session_fixture() -> InMemoryTelemetry:
    """Set up once, at session scope: before any per-test settings override (tests/conftest.py
    overrides CACHES for every test), whose revert would also drop the middleware the
    instrumentation adds to settings.MIDDLEWARE. Each module that imports this fixture gets
    its own definition of it, so the set-up itself is memoized here."""
    global _memory
    if _memory is None:
        memory = InMemoryTelemetry(
            InMemorySpanExporter(), InMemoryMetricReader(), InMemoryLogRecordExporter()
        )
        built = configure_telemetry(
            "pytest",
            extra_span_processors=[SimpleSpanProcessor(memory.spans)],
            extra_metric_readers=[memory.metrics],
            extra_log_processors=[SimpleLogRecordProcessor(memory.logs)],
        )
        assert built, "telemetry was configured in the test process before these tests"
        _memory = memory
    return _memory


@pytest.fixture(name="otel")
def otel_fixture(otel_session: InMemoryTelemetry) -> InMemoryTelemetry:
    """The process's telemetry, exporting to memory, with empty span and log exporters.
    Import otel_fixture and otel_session_fixture to use fixture `otel`."""
    otel_session.spans.clear()
    otel_session.logs.clear()
    return otel_session


@pytest.fixture(name="synchronous_measurements")
def synchronous_measurements_fixture(monkeypatch) -> list[str]:
    """The instrument name of every synchronous SDK measurement made during the test (each
    costs a copy, hash and lock of its attributes: what the cost tests count)."""
    from opentelemetry.sdk.metrics._internal.measurement_consumer import (
        SynchronousMeasurementConsumer,
    )

    names: list[str] = []
    consume = SynchronousMeasurementConsumer.consume_measurement

    def recording_consume(self, measurement):
        names.append(measurement.instrument.name)
        return consume(self, measurement)

    monkeypatch.setattr(SynchronousMeasurementConsumer, "consume_measurement", recording_consume)
    return names
