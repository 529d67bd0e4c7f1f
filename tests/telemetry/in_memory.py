"""The real telemetry set-up, in the test process, exporting to memory instead of OTLP: what
the fixtures `otel_session` and `otel` (tests/telemetry/conftest.py) hand to a test.

configure_telemetry() runs once per process (as in production), so the providers and
instrumentations stay for the rest of the test run; each test starts from empty exporters.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def configure_in_memory_telemetry() -> InMemoryTelemetry:
    """Configure this process's telemetry (once: a second call fails) with in-memory span,
    metric and log exporters next to whatever the settings configure."""
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
    return memory
