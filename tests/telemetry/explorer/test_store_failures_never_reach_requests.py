"""A store that cannot be written (locked by another writer past the busy timeout, no tables)
fails the batch, never the caller: the exporter answers FAILURE, the process says so once,
and once more when the store takes writes again."""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest
from django.db import connections
from opentelemetry.sdk.trace.export import SpanExportResult

from telemetry.explorer.writer import StoreBounds, StoreSpanExporter, StoreWriter
from telemetry.models import StoredSpan
from tests.telemetry.explorer.support import STORE, Recorder, store_db, store_db_committed

BOUNDS = StoreBounds(max_spans=10_000, max_log_records=10_000, max_age_seconds=86_400)


def in_a_thread(work):
    """Run `work` on a new thread (a new database connection, with the options of now)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    return outcome["value"]


@pytest.fixture
def short_busy_timeout():
    options = connections.settings[STORE]["OPTIONS"]
    before = options["timeout"]
    options["timeout"] = 0.2
    yield
    options["timeout"] = before


def store_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "telemetry.explorer.writer" and r.levelno >= logging.INFO
    ]


@store_db_committed
def test_a_locked_store_fails_batches_says_so_once_and_once_when_it_recovers(
    short_busy_timeout, caplog
):
    if connections[STORE].vendor != "sqlite":
        pytest.skip("the lock is SQLite's; the store's own alias is SQLite in both passes")
    caplog.set_level(logging.INFO, logger="telemetry.explorer.writer")
    recorder = Recorder()
    for n in range(3):
        recorder.tracer.start_span(f"span {n}").end()
    spans = recorder.finished_spans()
    exporter = StoreSpanExporter(StoreWriter(alias=STORE, bounds=BOUNDS, role="web"))
    # Another process holds the write lock (a long transaction, a backup ...).
    holder = sqlite3.connect(connections[STORE].settings_dict["NAME"], timeout=5)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        first = in_a_thread(lambda: exporter.export(spans[:1]))
        second = in_a_thread(lambda: exporter.export(spans[1:2]))
    finally:
        holder.rollback()
        holder.close()
    recovered = in_a_thread(lambda: exporter.export(spans[2:]))

    assert (first, second, recovered) == (
        SpanExportResult.FAILURE,
        SpanExportResult.FAILURE,
        SpanExportResult.SUCCESS,
    )
    assert list(StoredSpan.objects.values_list("name", flat=True)) == ["span 2"]
    messages = store_warnings(caplog)
    assert len(messages) == 2, messages
    assert "cannot write spans" in messages[0] and "locked" in messages[0]
    assert "requests are not affected" in messages[0]
    assert "again" in messages[1] and "2 spans and log records were lost" in messages[1]


@store_db
def test_a_store_without_its_tables_says_how_to_create_them(caplog):
    with connections[STORE].cursor() as cursor:  # undone with the test's transaction
        cursor.execute("DROP TABLE telemetry_storedspan")
    recorder = Recorder()
    recorder.tracer.start_span("lost").end()
    writer = StoreWriter(alias=STORE, bounds=BOUNDS, role="web")

    assert writer.write_spans(recorder.finished_spans()) is False
    assert writer.write_spans(recorder.finished_spans()) is False

    (message,) = store_warnings(caplog)
    assert f"manage.py migrate --database {STORE}" in message
    assert writer.health.failing and writer.health.lost == 2
