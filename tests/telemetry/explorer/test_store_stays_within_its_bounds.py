"""The store keeps the newest rows within its bounds: past the count, the oldest spans and log
records go; past the age, old rows and the processes not seen since go. The writer prunes as
it writes, never a request."""

from __future__ import annotations

import time

from telemetry.explorer.writer import PRUNE_TO_SHARE, StoreBounds, StoreWriter
from telemetry.models import StoredLogRecord, StoredProcess, StoredSpan
from tests.telemetry.explorer.support import (
    STORE,
    Recorder,
    now_us,
    store_db,
    stored_log,
    stored_span,
)

DAY_US = 86_400 * 1_000_000


def record_spans(recorder: Recorder, count: int, prefix: str = "span") -> list:
    for n in range(count):
        recorder.tracer.start_span(f"{prefix} {n}").end()
    spans = recorder.finished_spans()
    recorder.spans.clear()
    return spans


@store_db
def test_past_the_count_bound_the_oldest_spans_go():
    bound = 200
    writer = StoreWriter(alias=STORE, bounds=StoreBounds(bound, 10_000, 86_400), role="web")
    recorder = Recorder()
    spans = record_spans(recorder, 1000)

    for first in range(0, len(spans), 100):
        assert writer.write_spans(spans[first : first + 100])
        assert StoredSpan.objects.count() <= bound

    kept = set(StoredSpan.objects.values_list("name", flat=True))
    assert int(bound * PRUNE_TO_SHARE) <= len(kept) <= bound
    assert {f"span {n}" for n in range(900, 1000)} <= kept  # the newest batch whole
    assert "span 0" not in kept and "span 500" not in kept


@store_db
def test_past_the_count_bound_the_oldest_log_records_go():
    bound = 150
    writer = StoreWriter(alias=STORE, bounds=StoreBounds(10_000, bound, 86_400), role="web")
    recorder = Recorder()
    with recorder.logging_to_it() as log:
        for n in range(600):
            log.warning("record %d", n)
    records = recorder.finished_logs()

    for first in range(0, len(records), 50):
        assert writer.write_logs(records[first : first + 50])

    bodies = set(StoredLogRecord.objects.values_list("body", flat=True))
    assert len(bodies) <= bound and "record 599" in bodies and "record 0" not in bodies


@store_db
def test_past_the_age_bound_old_rows_and_old_processes_go():
    old = now_us() - 2 * DAY_US
    stored_span(name="from the day before yesterday", start_us=old)
    stored_log(body="old news", time_us=old)
    StoredProcess.objects.create(
        instance_id="gone",
        service_name="s",
        process_role="web",
        resource="{}",
        first_seen_us=old,
        last_seen_us=old,
    )
    writer = StoreWriter(alias=STORE, bounds=StoreBounds(10_000, 10_000, 86_400), role="web")
    recorder = Recorder()
    with recorder.logging_to_it() as log:
        log.warning("fresh")

    assert writer.write_spans(record_spans(recorder, 3, "fresh"))
    assert writer.write_logs(recorder.finished_logs())

    assert not StoredSpan.objects.filter(name="from the day before yesterday").exists()
    assert StoredSpan.objects.filter(name__startswith="fresh").count() == 3
    assert list(StoredLogRecord.objects.values_list("body", flat=True)) == ["fresh"]
    assert not StoredProcess.objects.filter(instance_id="gone").exists()
    assert StoredProcess.objects.count() == 1


@store_db
def test_an_idle_store_prunes_nothing_that_is_within_its_bounds():
    writer = StoreWriter(alias=STORE, bounds=StoreBounds(100, 100, 3600), role="web")
    recorder = Recorder()
    recent = now_us() - 1_000_000 * 60  # a minute ago
    stored_span(name="a minute ago", start_us=recent)

    assert writer.write_spans(record_spans(recorder, 10))
    time.sleep(0.01)
    assert writer.write_spans(record_spans(recorder, 10))

    assert StoredSpan.objects.count() == 21
