"""The store is written by the SDK's batch processors (bounded queue, background thread),
so ending a span costs the request only a queue append; the store's own writes are never
traced, even in a process whose database drivers are instrumented."""

from __future__ import annotations

import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from telemetry.explorer.writer import StoreBounds, StoreSpanExporter, StoreWriter
from telemetry.models import StoredSpan
from telemetry.pipeline.providers import new_batch_span_processor, new_tracer_provider
from tests.telemetry.explorer.support import (
    STORE,
    Recorder,
    new_resource,
    store_db,
    store_db_committed,
)

BOUNDS = StoreBounds(max_spans=10_000, max_log_records=10_000, max_age_seconds=86_400)


@store_db_committed
def test_spans_reach_the_store_through_a_batch_processor_not_on_end():
    writer = StoreWriter(alias=STORE, bounds=BOUNDS, role="web")
    provider = new_tracer_provider(new_resource(), ALWAYS_ON)
    processor = new_batch_span_processor(StoreSpanExporter(writer))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("tests.explorer")
    try:
        started = time.perf_counter()
        for n in range(200):
            tracer.start_span(f"request {n}").end()
        ending = time.perf_counter() - started
        # Nothing is written while the spans end: the batch waits for its schedule.
        assert StoredSpan.objects.count() == 0
        assert processor.force_flush()
    finally:
        provider.shutdown()

    assert StoredSpan.objects.count() == 200
    assert ending < 2.0  # 200 queue appends; generous for a busy machine


@store_db
def test_the_store_writes_leave_no_span_even_where_sqlite_and_psycopg_are_traced(otel):
    recorder = Recorder(Resource.create({"service.name": "s", "service.instance.id": "i-1"}))
    with recorder.tracer.start_as_current_span("one"):
        pass
    writer = StoreWriter(alias=STORE, bounds=BOUNDS, role="web")
    otel.spans.clear()

    # Called on this thread, outside the batch processor's own suppression: the writer's.
    assert writer.write_spans(recorder.finished_spans())
    statements = [str(s.attributes.get("db.statement", "")) for s in otel.finished_spans()]

    assert not [s for s in statements if "telemetry_stored" in s], statements
    assert StoredSpan.objects.filter(name="one").exists()  # (this read is the test's, traced)
