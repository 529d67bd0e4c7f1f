"""The store's writer keeps what the trace page shows of every span and log record: ids and
parents, kind, timing, status, attributes, events and exceptions, the process's resource."""

from __future__ import annotations

import json

from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from telemetry.explorer import rows
from telemetry.explorer.writer import StoreBounds, StoreWriter
from telemetry.models import StoredLogRecord, StoredProcess, StoredSpan
from tests.telemetry.explorer.support import STORE, Recorder, store_db

BOUNDS = StoreBounds(max_spans=10_000, max_log_records=10_000, max_age_seconds=86_400)
REMOTE = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
)


def record_a_request(recorder: Recorder) -> None:
    tracer = recorder.tracer
    parent = trace.set_span_in_context(NonRecordingSpan(REMOTE))
    with tracer.start_as_current_span(
        "POST /api/jobs",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.route": "/api/jobs", "http.response.status_code": 202},
    ):
        with tracer.start_as_current_span(
            "INSERT", kind=SpanKind.CLIENT, attributes={"db.statement": "INSERT INTO x VALUES (%s)"}
        ):
            pass
        with tracer.start_as_current_span("enrich") as failing:
            try:
                raise ConnectionError("downstream refused")
            except ConnectionError as exc:
                failing.record_exception(exc)
                failing.set_status(Status(StatusCode.ERROR, "downstream refused"))


@store_db
def test_it_stores_every_span_of_a_request_with_its_parent_kind_timing_and_status():
    recorder = Recorder()
    record_a_request(recorder)
    writer = StoreWriter(alias=STORE, bounds=BOUNDS, role="web")

    assert writer.write_spans(recorder.finished_spans())

    spans = {s.name: s for s in StoredSpan.objects.filter(trace_id=format(REMOTE.trace_id, "032x"))}
    assert set(spans) == {"POST /api/jobs", "INSERT", "enrich"}
    server, insert, enrich = spans["POST /api/jobs"], spans["INSERT"], spans["enrich"]
    assert server.parent_span_id == "b7ad6b7169203331" and server.parent_is_remote
    assert server.kind == "server" and insert.kind == "client" and enrich.kind == "internal"
    assert insert.parent_span_id == server.span_id and not insert.parent_is_remote
    assert server.start_us <= insert.start_us and insert.end_us <= server.end_us
    assert server.duration_us >= 0 and server.process_role == "web"
    assert server.attribute_map == {"http.route": "/api/jobs", "http.response.status_code": 202}
    assert insert.attribute_map["db.statement"] == "INSERT INTO x VALUES (%s)"
    assert enrich.status_code == StoredSpan.Status.ERROR
    assert enrich.status_message == "downstream refused"
    (event,) = enrich.event_list
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "ConnectionError"
    assert "downstream refused" in event["attributes"]["exception.stacktrace"]
    assert server.service_name == "observability-site" and server.scope == "tests.explorer"
    instance = recorder.resource.attributes["service.instance.id"]
    assert {s.instance_id for s in spans.values()} == {instance}


@store_db
def test_it_keeps_the_resource_of_each_process_once():
    recorder = Recorder()
    record_a_request(recorder)
    writer = StoreWriter(alias=STORE, bounds=BOUNDS, role="worker")

    assert writer.write_spans(recorder.finished_spans()[:1])
    assert writer.write_spans(recorder.finished_spans()[1:])

    (process,) = StoredProcess.objects.all()
    assert process.instance_id == recorder.resource.attributes["service.instance.id"]
    assert process.process_role == "worker" and process.host_name == "test-host"
    assert process.pid == recorder.resource.attributes["process.pid"]
    assert process.resource_attributes["service.name"] == "observability-site"


@store_db
def test_it_stores_log_records_with_the_trace_and_span_they_were_logged_in():
    recorder = Recorder()
    with recorder.logging_to_it("processing.jobs") as log:
        with recorder.tracer.start_as_current_span("work") as span:
            log.warning("job queued", extra={"job_id": "j-1"})
        log.error("outside any span")
    writer = StoreWriter(alias=STORE, bounds=BOUNDS, role="web")

    assert writer.write_logs(recorder.finished_logs())

    inside = StoredLogRecord.objects.get(body="job queued")
    assert inside.trace_id == format(span.get_span_context().trace_id, "032x")
    assert inside.span_id == format(span.get_span_context().span_id, "016x")
    assert (inside.level, inside.severity_number, inside.logger) == ("WARN", 13, "processing.jobs")
    assert inside.attribute_map["job_id"] == "j-1"
    outside = StoredLogRecord.objects.get(body="outside any span")
    assert outside.trace_id == "" and outside.span_id == "" and outside.level == "ERROR"
    assert StoredProcess.objects.count() == 1


def test_a_row_keeps_at_most_its_bounds_and_says_what_it_left_out():
    attributes = {f"key.{n}": "x" * 2000 for n in range(40)}  # 80 KB of attributes

    text = rows.bounded_json(attributes, rows.MAX_ATTRIBUTES_JSON)

    assert len(text) <= rows.MAX_ATTRIBUTES_JSON
    kept = json.loads(text)
    assert kept["telemetry.store.truncated"] is True
    assert kept["key.0"].startswith("x" * 1000) and kept["key.0"].endswith("…")
    assert rows.bounded_json({"short": 1}, rows.MAX_ATTRIBUTES_JSON) == '{"short":1}'
