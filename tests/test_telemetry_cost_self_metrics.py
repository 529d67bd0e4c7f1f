"""The SDK's self-metrics: the batch processors still count what they export and drop
(otel.sdk.processor.span.processed, the queue_full drops the README documents), while the
per-span and per-log-record ones (otel.sdk.span.*, otel.sdk.log.created), which cost three
metric measurements per span, are not recorded. In-process, real SDK, metrics read from
memory."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from telemetry.setup import new_tracer_provider
from tests.telemetry_in_memory import otel_fixture, otel_session_fixture  # noqa: F401

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
    processor = BatchSpanProcessor(exporter)
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
