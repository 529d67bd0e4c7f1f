"""Exporters that the sampling policy switches on and off per signal, live.

Each wraps the real exporter and, while the policy's switch for its signal is off, drops
what it is given (reporting success, so nothing is retried or logged as a failure). The
providers, spans and their ids stay: logs and job rows keep their trace ids, and metrics,
being cumulative, are whole again at the first export after the switch comes back on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from telemetry.sampling.policy import current_policy


class SwitchableSpanExporter(SpanExporter):
    """Exports spans while the policy's `export_traces` is on."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not current_policy().export_traces:
            return SpanExportResult.SUCCESS
        return self.exporter.export(spans)

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class SwitchableMetricExporter(MetricExporter):
    """Exports metrics while the policy's `export_metrics` is on."""

    def __init__(self, exporter: MetricExporter) -> None:
        # The reader asks the exporter for its temporality and aggregation: the wrapped one's.
        # They are private attributes (telemetry.upstream lists them); if they moved, the
        # reader's defaults rather than a process that cannot start.
        super().__init__(
            preferred_temporality=getattr(exporter, "_preferred_temporality", None),
            preferred_aggregation=getattr(exporter, "_preferred_aggregation", None),
        )
        self.exporter = exporter

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if not current_policy().export_metrics:
            return MetricExportResult.SUCCESS
        return self.exporter.export(metrics_data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.exporter.shutdown(timeout_millis=timeout_millis, **kwargs)


class SwitchableLogExporter(LogRecordExporter):
    """Exports log records while the policy's `export_logs` is on."""

    def __init__(self, exporter: LogRecordExporter) -> None:
        self.exporter = exporter

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        if not current_policy().export_logs:
            return LogRecordExportResult.SUCCESS
        return self.exporter.export(batch)

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)
