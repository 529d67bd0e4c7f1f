"""The policy's per-signal export switches: while a switch is off, its exporter drops what
it is given (and reports success); on again, it exports. The metric exporter keeps the
temporality and aggregation of the exporter it wraps."""

from __future__ import annotations

from unittest import mock

from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExportResult
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from telemetry.sampling.export_switches import (
    SwitchableLogExporter,
    SwitchableMetricExporter,
    SwitchableSpanExporter,
)
from tests.telemetry.sampling.support import snapshot


def test_the_span_exporter_follows_export_traces(sampling_policy):
    memory = InMemorySpanExporter()
    exporter = SwitchableSpanExporter(memory)
    span = TracerProvider().get_tracer("t").start_span("x")
    span.end()

    sampling_policy(snapshot(1.0, export_traces=False))
    assert exporter.export([span]) == SpanExportResult.SUCCESS
    assert memory.get_finished_spans() == ()

    sampling_policy(snapshot(1.0))
    exporter.export([span])
    assert len(memory.get_finished_spans()) == 1


def test_the_metric_exporter_follows_export_metrics(sampling_policy):
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    inner = OTLPMetricExporter(endpoint="http://127.0.0.1:9")
    exporter = SwitchableMetricExporter(inner)
    assert exporter._preferred_temporality == inner._preferred_temporality
    assert exporter._preferred_aggregation == inner._preferred_aggregation
    data = object()

    with mock.patch.object(inner, "export", return_value=MetricExportResult.SUCCESS) as sent:
        sampling_policy(snapshot(1.0, export_metrics=False))
        assert exporter.export(data) == MetricExportResult.SUCCESS
        sent.assert_not_called()
        sampling_policy(snapshot(1.0))
        exporter.export(data)
        sent.assert_called_once()


def test_the_log_exporter_follows_export_logs(sampling_policy):
    memory = InMemoryLogRecordExporter()
    exporter = SwitchableLogExporter(memory)
    record = mock.Mock()

    sampling_policy(snapshot(1.0, export_logs=False))
    assert exporter.export([record]) == LogRecordExportResult.SUCCESS
    assert memory.get_finished_logs() == ()

    sampling_policy(snapshot(1.0))
    exporter.export([record])
    assert len(memory.get_finished_logs()) == 1
