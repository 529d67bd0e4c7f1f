"""The OTLP span export sends batches of 64 spans unless OTEL_BSP_MAX_EXPORT_BATCH_SIZE says
otherwise (the export thread holds the GIL while it encodes a batch: docs/overhead.md), and
never more than the queue holds."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from telemetry.pipeline.providers import new_batch_span_processor, otlp_export_batch_size


class _BatchSizes(SpanExporter):
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def export(self, spans):
        self.sizes.append(len(spans))
        return SpanExportResult.SUCCESS


def _exported_batches(count: int) -> list[int]:
    exporter = _BatchSizes()
    provider = TracerProvider()
    provider.add_span_processor(new_batch_span_processor(exporter, otlp_export_batch_size()))
    tracer = provider.get_tracer(__name__)
    for _ in range(count):
        tracer.start_span("job").end()
    provider.force_flush()
    provider.shutdown()
    return exporter.sizes


@pytest.fixture(autouse=True)
def _no_batch_settings(monkeypatch):
    for name in ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"):
        monkeypatch.delenv(name, raising=False)


def test_spans_leave_in_batches_of_64_by_default():
    sizes = _exported_batches(300)

    assert sum(sizes) == 300
    assert max(sizes) == 64


def test_the_operators_batch_size_wins(monkeypatch):
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "256")

    sizes = _exported_batches(300)

    assert sum(sizes) == 300
    assert max(sizes) == 256


def test_a_queue_smaller_than_64_bounds_the_batch(monkeypatch):
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "16")

    assert otlp_export_batch_size() == 16
