"""The SDK's self-metrics: the batch processors still count what they export and drop
(otel.sdk.processor.span.processed, the queue_full drops the README documents), while the
per-span and per-log-record ones (otel.sdk.span.*, otel.sdk.log.created), which cost three
metric measurements per span, are not recorded; and a dropped span costs no metric
measurement of its own (the counts are read at collection). In-process, real SDK, metrics
read from memory."""

from __future__ import annotations

import logging
import threading

import pytest
from django.test import Client
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from telemetry.fastpath.tallied_metrics import DropReport, _tallies
from telemetry.pipeline.providers import new_batch_span_processor, new_tracer_provider

pytestmark = pytest.mark.django_db


def test_spans_and_log_records_leave_no_per_item_self_metrics(otel):
    response = Client().get("/api/users")  # a server span, database spans, a warning log
    logging.getLogger("tests.cost").warning("a record for the log pipeline")

    assert response.status_code in (401, 403)
    assert otel.finished_spans()
    assert otel.metric_points("http.server.request.duration")
    for name in ("otel.sdk.span.started", "otel.sdk.span.live", "otel.sdk.log.created"):
        assert otel.metric_points(name) == [], name


def test_the_batch_processor_still_counts_the_spans_it_processed(otel):
    exporter = InMemorySpanExporter()
    processor = new_batch_span_processor(exporter)
    provider = new_tracer_provider(Resource.create({}), ALWAYS_ON)
    provider.add_span_processor(processor)
    before = otel.count("otel.sdk.processor.span.processed")
    try:
        tracer = provider.get_tracer("tests.cost")
        for n in range(3):
            tracer.start_span(f"span {n}").end()
        assert provider.force_flush()
    finally:
        provider.shutdown()

    assert len(exporter.get_finished_spans()) == 3
    assert otel.count("otel.sdk.processor.span.processed") == before + 3
    assert otel.metric_points("otel.sdk.span.started") == []


class StuckExporter(SpanExporter):
    """Holds its first batch until released, as an export to an unreachable collector does."""

    def __init__(self) -> None:
        self.exporting = threading.Event()
        self.release = threading.Event()
        self.exported = 0

    def export(self, spans):
        self.exporting.set()
        self.release.wait(30)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


def test_spans_dropped_from_a_full_queue_are_counted_as_queue_full(
    otel, monkeypatch, synchronous_measurements, caplog
):
    caplog.set_level(logging.INFO)
    # Each tally reports its drops once per 20 s: due now, whatever earlier tests dropped.
    monkeypatch.setattr(DropReport, "REPORT_SECONDS", 3600.0)
    for counter in _tallies.values():
        monkeypatch.setattr(counter._drops, "_next_report", 0.0)
    measurements = synchronous_measurements
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
    exporter = StuckExporter()
    provider = new_tracer_provider(Resource.create({}), ALWAYS_ON)
    provider.add_span_processor(new_batch_span_processor(exporter))
    tracer = provider.get_tracer("tests.cost")
    dropped_before = otel.count("otel.sdk.processor.span.processed", **{"error.type": "queue_full"})
    try:
        for n in range(2):  # a full batch: the processor's thread takes it and gets stuck
            tracer.start_span(f"first {n}").end()
        assert exporter.exporting.wait(10)
        measurements.clear()
        for n in range(7):  # two fill the queue again, five find it full
            tracer.start_span(f"then {n}").end()
        # Neither the spans nor their drops made a metric measurement on the way.
        assert measurements == []
        dropped = otel.count("otel.sdk.processor.span.processed", **{"error.type": "queue_full"})
    finally:
        exporter.release.set()
        provider.force_flush()
        provider.shutdown()

    assert dropped == dropped_before + 5
    assert exporter.exported == 4
    # The SDK built no log record per dropped span; one line says so, from the tally.
    drop_lines = [r.getMessage() for r in caplog.records if "Queue full" in r.getMessage()]
    assert drop_lines == [
        "Queue full, dropping spans: 1 dropped since the last report"
        " (collector unreachable or too slow)"
    ]


def test_a_drop_report_counts_what_was_dropped_between_its_lines(caplog):
    caplog.set_level(logging.INFO)
    report = DropReport("otel.sdk.processor.log.processed")
    for _ in range(3):
        report.dropped(1)
    report._next_report = 0.0  # as if REPORT_SECONDS had passed since the first line
    report.dropped(4)

    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "Queue full, dropping logs: 1 dropped since the last report",
        "Queue full, dropping logs: 6 dropped since the last report",
    ]
